"""Loading a series from CSV: upload, a validation report, then all or nothing (SPEC 3.10; issue 9)."""
from flask import Blueprint, abort

bp = Blueprint('imports', __name__, url_prefix='/board/imports')


@bp.route('/')
def index():
    abort(404)  # being built (issue 9)
