"""Series and units: the board's series staff create and edit series and their units (SPEC 2, 3.10; issue 9)."""
from flask import Blueprint, abort

bp = Blueprint('series_admin', __name__, url_prefix='/board')


@bp.route('/series')
def index():
    abort(404)  # being built (issue 9)
