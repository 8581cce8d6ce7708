"""HOME: what the signed-in account can do from here."""
from flask import Blueprint
from flask_login import current_user, login_required

from blueprints import render
from models import ModeratorAssignment, Centre, Unit

bp = Blueprint('home', __name__)


@bp.route('/')
@login_required
def index():
    """The landing page after sign-in."""
    assignments = []
    if current_user.kind == 'moderator':
        assignments = list(ModeratorAssignment.select(ModeratorAssignment, Centre, Unit)
                           .join(Centre).switch(ModeratorAssignment).join(Unit)
                           .where(ModeratorAssignment.moderator == current_user.id)
                           .order_by(Centre.number, Unit.code))
    return render('home.html', assignments=assignments)
