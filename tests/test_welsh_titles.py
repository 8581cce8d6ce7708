"""Issue 10 point 7: series and unit titles have a Welsh form shown on Welsh
pages; English left on a Welsh page is marked lang="en" so that a screen
reader reads it as English, and Welsh on an English page lang="cy"."""
import pytest

from models import Series, Unit, db


@pytest.mark.db
def test_a_welsh_page_shows_welsh_titles_and_marks_english_ones(world, as_):
    client = as_('teacher')
    client.post('/language', data={'lang': 'cy', 'next': '/'})
    html = client.get(f'/internal-assessment/{world.unit.id}').get_data(as_text=True)
    assert f'<span lang="en">{world.unit.series.name}</span> <span lang="en">{world.unit.title}</span>' in html
    assert '<button name="lang" value="en" lang="en"' in html
    with db.connection_context():
        Series.update(name_cy='CYMWYSTERAU LEFEL 3 MEHEFIN 2017').where(Series.id == world.unit.series_id).execute()
        Unit.update(title_cy='DAMCANIAETHAU TROSEDDEGOL').where(Unit.id == world.unit.id).execute()
    html = client.get(f'/internal-assessment/{world.unit.id}').get_data(as_text=True)
    assert 'CYMWYSTERAU LEFEL 3 MEHEFIN 2017 DAMCANIAETHAU TROSEDDEGOL (9611/L3)' in html
    overview = client.get('/internal-assessment/').get_data(as_text=True)
    assert 'DAMCANIAETHAU TROSEDDEGOL' in overview
    english = as_('admin').get(f'/internal-assessment/{world.unit.id}').get_data(as_text=True)
    assert f'{world.unit.series.name} {world.unit.title} (9611/L3)' in english
    assert 'lang="cy" >Cymraeg</button>' in english or 'value="cy" lang="cy"' in english
