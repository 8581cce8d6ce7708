"""The sample algorithm of SPEC 3.4 (models.choose_sample), unit by unit."""
import random

import pytest

from models import choose_sample, sample_size


def ranked(n, groups=('A',), seed=0, scores=(3, 2, 1)):
    """n candidates best first: (score, group), scores spread over the grades."""
    rng = random.Random(seed)
    rows = [(scores[min(len(scores) - 1, i * len(scores) // n)], rng.choice(groups)) for i in range(n)]
    return rows


@pytest.mark.parametrize('n, size', [(1, 1), (15, 15), (16, 15), (100, 15), (101, 20),
                                     (200, 20), (201, 25), (2000, 25)])
def test_sample_size_follows_the_published_table(n, size):
    assert sample_size(n) == size
    assert len(choose_sample(ranked(n))) == size


def test_fifteen_or_fewer_are_all_sampled_with_highest_and_lowest_named():
    picks = choose_sample(ranked(12))
    assert sorted(picks) == list(range(12))
    assert picks[0][0] == 'highest' and picks[11][0] == 'lowest'
    assert {reason for reason, _ in picks.values()} == {'highest', 'lowest', 'all'}


@pytest.mark.parametrize('n', [16, 57, 100, 101, 144, 200, 201, 999])
def test_highest_and_lowest_are_always_in(n):
    picks = choose_sample(ranked(n))
    assert picks[0] == ('highest', '') and picks[n - 1] == ('lowest', '')


def test_the_rest_spread_evenly_through_the_rank_order():
    picks = choose_sample(ranked(144, scores=(1,)))
    positions = sorted(picks)
    gaps = [b - a for a, b in zip(positions, positions[1:])]
    assert max(gaps) - min(gaps) <= 1
    assert all(reason in ('highest', 'lowest', 'spread') for reason, _ in picks.values())


def test_every_grade_awarded_is_represented():
    # One Distinction among 144 Passes, ranked first... and one Merit buried mid-way.
    rows = [(1, 'A')] * 144
    rows[70] = (2, 'A')
    rows = sorted(rows, key=lambda r: -r[0])
    picks = choose_sample(rows)
    assert len(picks) == 20
    assert {rows[i][0] for i in picks} == {1, 2}
    merit = [i for i in picks if rows[i][0] == 2]
    assert merit == [0] and picks[0][0] == 'highest'


def test_a_grade_missed_by_the_spread_comes_in_with_its_reason():
    rows = [(3, 'A')] * 49 + [(2, 'A')] + [(1, 'A')] * 50  # a lone Merit at rank 49
    assert 49 not in choose_sample([(1, 'A')] * 100)  # the plain spread would miss it
    picks = choose_sample(rows)
    assert len(picks) == 15
    assert picks[49] == ('grade', 'M')
    assert {rows[i][0] for i in picks} == {1, 2, 3}


def test_every_teaching_group_is_represented_without_growing_the_sample():
    rows = [(1, 'A')] * 121 + [(1, 'B')] * 3 + [(1, 'A')] * 20  # B at ranks 121-123
    assert not {121, 122, 123} & set(choose_sample([(1, 'A')] * 144))
    picks = choose_sample(rows)
    assert len(picks) == 20
    assert {rows[i][1] for i in picks} == {'A', 'B'}
    assert ('group', 'B') in picks.values()


def test_many_groups_can_grow_the_sample_only_when_they_must():
    rows = [(1, f'G{i:02d}') for i in range(30)]  # 30 groups, one candidate each, sample 15
    picks = choose_sample(rows)
    assert {rows[i][1] for i in picks} == {r[1] for r in rows}


def test_same_data_same_sample():
    rows = ranked(333, groups=('A', 'B', 'C', 'D'), seed=5)
    assert choose_sample(rows) == choose_sample(list(rows))


def test_no_candidates_no_sample():
    assert choose_sample([]) == {}
