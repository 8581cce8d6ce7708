"""Moderators and their assignments to centres' units, for the board's series staff (SPEC 2, 3.10; issue 9)."""
from flask import Blueprint, abort

bp = Blueprint('moderators', __name__, url_prefix='/board/moderators')


@bp.route('/')
def index():
    abort(404)  # being built (issue 9)
