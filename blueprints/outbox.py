"""The outbox, for helpline staff: every e-mail the product has sent or is
sending, and its state (SPEC 3.11). With no mail server these are also the
.eml files in MAIL_FOLDER."""
from flask import Blueprint, abort

from access import roles_required
from blueprints import render
from models import Outbox

bp = Blueprint('outbox', __name__, url_prefix='/staff/outbox')
PAGE = 100


@bp.route('/')
@roles_required('staff')
def index():
    """The latest mails, newest first."""
    mails = list(Outbox.select().order_by(Outbox.id.desc()).limit(PAGE))
    return render('outbox/index.html', mails=mails)


@bp.route('/<int:mail_id>')
@roles_required('staff')
def mail(mail_id):
    """One mail as it was written."""
    found = Outbox.get_or_none(Outbox.id == mail_id)
    if found is None:
        abort(404)
    return render('outbox/mail.html', mail=found)
