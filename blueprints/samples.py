"""VIEW SAMPLES: adding candidates to the sample, substitutes for incomplete
or lost work, and the moderator's details (SPEC 3.4)."""
import re

from flask import Blueprint, abort, current_app, flash, redirect, request, url_for
from flask_babel import gettext as _

from access import acting_ids, internal_assessment_required, marksheet_for
from blueprints import message_for, render, report_dropped
from extensions import htmx
from models import DomainError, SampleMember

bp = Blueprint('samples', __name__, url_prefix='/internal-assessment')


def set_sampled(sheet, entry_id, wanted):
    actor, acting_for = acting_ids()
    if wanted:
        sheet.add_to_sample(entry_id, actor, acting_for)
    else:
        sheet.remove_from_sample(entry_id, actor, acting_for)


def apply_sample_ticks(sheet, form):
    """The Save button after submission: ticks added or removed on the page,
    in one transaction; rows that are not this marksheet's are never read."""
    rows = {int(raw) for raw in form.getlist('row') if re.fullmatch(r'\d{1,9}', raw)}
    if len(rows) > sheet.counts()[1]:
        flash(_('The form sent more rows than this marksheet has, so nothing was saved. '
                'Reload the page and try again.'), 'error')
        return
    ours = sheet.own_entries(rows)
    with sheet.changing():
        for entry_id in sorted(ours):
            try:
                set_sampled(sheet, entry_id, bool(form.get(f'sample-{entry_id}')))
            except DomainError as error:
                flash(message_for(error), 'error')
    report_dropped(len(rows) - len(ours))


@bp.route('/<int:unit_id>/entries/<int:entry_id>/sample', methods=['POST'])
@internal_assessment_required
def toggle(unit_id, entry_id):
    """Tick or untick a candidate in the Sample column."""
    from blueprints.internal_assessment import row_response
    sheet = marksheet_for(unit_id)
    if sheet.entry(entry_id) is None:
        abort(404)
    error = None
    try:
        set_sampled(sheet, entry_id, bool(request.form.get(f'sample-{entry_id}')))
    except DomainError as failure:
        error = message_for(failure)
    if not htmx:
        if error:
            flash(error, 'error')
        return redirect(url_for('internal_assessment.marksheet', unit_id=unit_id, show='samples'), 303)
    return row_response(sheet, entry_id, error=error, status=409 if error else 200)


@bp.route('/<int:unit_id>/entries/<int:entry_id>/substitute', methods=['GET', 'POST'])
@internal_assessment_required
def substitute(unit_id, entry_id):
    """Work incomplete or lost: choose the nearest candidate to stand in."""
    sheet = marksheet_for(unit_id)
    entry = sheet.entry(entry_id)
    if entry is None:
        abort(404)
    member = SampleMember.get_or_none(SampleMember.entry == entry)
    if member is None or member.work_missing or sheet.submission() is None:
        flash(message_for(DomainError('not_in_sample')), 'error')
        return redirect(url_for('internal_assessment.marksheet', unit_id=unit_id, show='samples'), 303)
    error = None
    if request.method == 'POST':
        choice = request.form.get('substitute', '')
        actor, acting_for = acting_ids()
        try:
            sheet.substitute(entry_id, int(choice) if re.fullmatch(r'\d{1,9}', choice) else -1, actor, acting_for)
        except DomainError as failure:
            error = message_for(failure)
        else:
            flash(_('Substitute recorded. Do not send the incomplete work to the moderator, and '
                    'inform %(board)s in writing that this outcome should be changed to Absent.',
                    board=current_app.config['BOARD_NAME']))
            return redirect(url_for('internal_assessment.marksheet', unit_id=unit_id, show='samples'), 303)
    return render('samples/substitute.html', sheet=sheet, unit=sheet.unit, entry=entry,
                  choices=sheet.substitute_choices(entry), error=error,
                  status=422 if error else 200)


@bp.route('/<int:unit_id>/moderator')
@internal_assessment_required
def moderator(unit_id):
    """VIEW MODERATOR DETAILS: where the sample goes, once submitted."""
    sheet = marksheet_for(unit_id)
    submission = sheet.submission()
    return render('samples/moderator.html', sheet=sheet, unit=sheet.unit,
                  submission=submission, moderator=sheet.moderator() if submission else None)
