"""The outbox, for helpline staff: every e-mail the product has sent or is
sending, and its state (SPEC 3.11). With no mail server these are also the
.eml files in MAIL_FOLDER."""
from flask import Blueprint, abort
from flask_babel import gettext as _, lazy_gettext as _l

from access import helpline_required
from blueprints import render
from models import Outbox

bp = Blueprint('outbox', __name__, url_prefix='/staff/outbox')
PAGE = 100
STATES = {'queued': _l('Waiting to be sent'), 'sending': _l('Being sent'), 'sent': _l('Sent'),
          'failed': _l('Failed')}
LANGUAGES = {'en': 'English', 'cy': 'Cymraeg'}  # each in its own language, as on the switch


@bp.route('/')
@helpline_required
def index():
    """The latest mails, newest first."""
    mails = list(Outbox.select().order_by(Outbox.id.desc()).limit(PAGE))
    return render('outbox/index.html', mails=mails, states=STATES)


@bp.route('/<int:mail_id>')
@helpline_required
def mail(mail_id):
    """One mail as it was written, its link or code hidden: staff must not
    be able to use another account's reset link (issue 6, point 4)."""
    found = Outbox.get_or_none(Outbox.id == mail_id)
    if found is None:
        abort(404)
    hidden = _('[code hidden]') if found.key.startswith('signin-code') else _('[link hidden]')
    return render('outbox/mail.html', mail=found, body=found.body.replace(Outbox.SECRET_MARK, hidden),
                  states=STATES, languages=LANGUAGES)
