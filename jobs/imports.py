"""Imports from CSV as jobs (issue 9 point 3): checking an uploaded file and
saving it, each with progress on its job row; the batch row says the outcome."""
import logging

from flask import current_app

import imports
from jobs import enqueue, runner, set_progress
from models import DomainError, ImportBatch, Job

log = logging.getLogger(__name__)


def progress_of(job, path_size, low, high):
    """A callback of bytes read that moves the job's bar from `low` to `high`, a step at a time."""
    last = [low]

    def progress(done):
        percent = low + int((high - low) * done / max(path_size, 1))
        if percent >= last[0] + 5:
            last[0] = percent
            set_progress(job, percent)
    return progress


@runner('import_check')
def import_check(job):
    """Validate an uploaded file: the batch becomes 'ready' or 'invalid'."""
    batch = ImportBatch.get_by_id(job.arguments['batch'])
    try:
        imports.check_batch(batch.id, current_app.config['IMPORT_MAX_BYTES'],
                            progress_of(job, batch.size, 5, 95))
    except Exception:
        ImportBatch.update(state='failed').where(ImportBatch.id == batch.id).execute()
        raise


@runner('import_save')
def import_save(job):
    """Save a confirmed batch in one transaction, then send its invitations."""
    batch = ImportBatch.get_by_id(job.arguments['batch'])
    try:
        mails = imports.save_batch(batch.id, job.arguments['page'], current_app.config['IMPORT_MAX_BYTES'],
                                   progress_of(job, batch.size, 5, 95))
    except DomainError:  # another import of this kind held the database: the batch is ready again
        log.warning('import %s waited too long for another import', batch.id)
        return
    except Exception:
        ImportBatch.update(state='failed').where(ImportBatch.id == batch.id, ImportBatch.state == 'saving').execute()
        raise
    for mail in mails:
        if mail is not None:
            enqueue(mail)
