"""ENTRIES: exams officers' new entries and withdrawals, pending until the board's series staff process them in a queue (SPEC 2 Entry; issue 9)."""
from flask import Blueprint, abort

bp = Blueprint('entries', __name__)


@bp.route('/entries')
def index():
    abort(404)  # being built (issue 9)


@bp.route('/board/entries')
def queue():
    abort(404)  # being built (issue 9)
