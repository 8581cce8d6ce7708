// The little the marksheet needs beyond htmx; everything also works without it.
(function () {
  // Absent asks first (SPEC 3.3); cancelling puts the old choice back.
  document.addEventListener('htmx:confirm', function (event) {
    var field = event.detail.elt;
    if (!field || !field.name || field.name.indexOf('value-') !== 0) return;
    var table = field.closest('[data-absent-warning]');
    if (!table) return;
    // Only the words the server reads as Absent (models.GRADE_WORDS).
    var words = (table.getAttribute('data-absent-words') || 'A').split(' ');
    if (words.indexOf(String(field.value).trim().toUpperCase()) < 0) return;
    event.preventDefault();
    if (window.confirm(table.getAttribute('data-absent-warning'))) {
      event.detail.issueRequest(true);
    } else if (field.tagName === 'SELECT') {
      for (var i = 0; i < field.options.length; i++) {
        field.options[i].selected = field.options[i].defaultSelected;
      }
    } else {
      field.value = field.defaultValue;
    }
  });
  // When an outcome is saved (issue 10). A choice made with the mouse saves
  // at once; arrow keys in a closed select only move through the values, and
  // the one chosen is saved when the teacher leaves the field or presses
  // Enter. Enter saves that row once and never submits the whole form.
  var STEPPING = ['ArrowUp', 'ArrowDown', 'ArrowLeft', 'ArrowRight', 'Home', 'End', 'PageUp', 'PageDown'];
  function outcomeField(element) {
    return element && element.name && element.name.indexOf('value-') === 0 && element.hasAttribute('hx-trigger');
  }
  function changed(field) {
    if (field.tagName !== 'SELECT') return field.value !== field.defaultValue;
    for (var i = 0; i < field.options.length; i++) {
      if (field.options[i].selected !== field.options[i].defaultSelected) return true;
    }
    return false;
  }
  function save(field) {
    delete field.dataset.stepped;
    if (changed(field) && window.htmx) window.htmx.trigger(field, 'save');
  }
  document.addEventListener('keydown', function (event) {
    var field = event.target;
    if (!outcomeField(field)) return;
    if (event.key === 'Enter') {
      event.preventDefault();
      save(field);
    } else if (field.tagName === 'SELECT' && (STEPPING.indexOf(event.key) >= 0 || event.key.length === 1)) {
      field.dataset.stepped = '1';
    }
  });
  document.addEventListener('change', function (event) {
    var field = event.target;
    if (outcomeField(field) && !field.dataset.stepped) save(field);
  });
  document.addEventListener('focusout', function (event) {
    if (outcomeField(event.target) && event.target.dataset.stepped) save(event.target);
  });
  // SAVE while a field's inline save is on its way: the field is disabled for
  // that moment, and a disabled field is not sent; send it with the page (the
  // same value from the same version by the same account is taken once).
  document.addEventListener('submit', function (event) {
    var fields = event.target.querySelectorAll('[name^="value-"]:disabled');
    for (var i = 0; i < fields.length; i++) fields[i].disabled = false;
  });
  // Focus stays where the teacher is: the field is disabled while its save is
  // on its way, then its row is swapped; the field of the same id has focus
  // again unless the teacher has already moved on.
  var refocus = null;
  document.addEventListener('htmx:beforeRequest', function (event) {
    if (event.detail.elt === document.activeElement && event.detail.elt.id) refocus = event.detail.elt.id;
  });
  document.addEventListener('htmx:afterSettle', function () {
    var id = refocus, active = document.activeElement;
    refocus = null;
    if (!id || (active && active !== document.body)) return;
    var field = document.getElementById(id);
    if (field) field.focus();
  });
  // A request that failed outright (network, server) must not look saved.
  document.addEventListener('htmx:sendError', function (event) { warn(event, 'data-request-failed'); });
  document.addEventListener('htmx:responseError', function (event) {
    var xhr = event.detail.xhr;
    if (xhr && xhr.getResponseHeader('HX-Redirect')) return;
    var refused = xhr && (xhr.status === 403 || xhr.status === 404);
    var said = xhr && xhr.getResponseHeader('X-Portal-Message');  // the server's own words
    warn(event, refused ? 'data-request-forbidden' : 'data-request-failed', said && decodeURIComponent(said));
    if (xhr && xhr.status === 503) retry(event.detail.elt, xhr.getResponseHeader('Retry-After'));
  });
  // The service was away for a moment (503): the same save again, a few times.
  function retry(field, after) {
    if (!field || !window.htmx) return;
    var tries = Number(field.getAttribute('data-retries') || 0);
    if (tries >= 5) return;
    field.setAttribute('data-retries', String(tries + 1));
    window.setTimeout(function () { window.htmx.trigger(field, 'change'); },
                      1000 * Math.min(Number(after) || 3, 30) * (tries + 1));
  }
  // Said beside the field, as the server's own refusals are.
  function warn(event, attribute, said) {
    var field = event.detail.elt;
    var cell = field && field.closest('td');
    var text = said || document.body.getAttribute(attribute);
    if (!cell) { window.alert(text); return; }
    var note = cell.querySelector('.error') || document.createElement('span');
    note.className = 'error';
    note.setAttribute('role', 'alert');
    note.textContent = text;
    cell.appendChild(note);
    cell.closest('tr').classList.add('problem');
  }
  // An e-mailed link carries its token after '#', which browsers never send:
  // post it from here (without JavaScript the holder pastes the code).
  document.addEventListener('DOMContentLoaded', function () {
    var form = document.querySelector('form[data-link-token]');
    var token = window.location.hash.slice(1);
    if (!form || !token) return;
    history.replaceState(null, '', window.location.pathname);
    form.elements.token.value = decodeURIComponent(token);
    form.submit();
  });
  // Two minutes before the idle limit, a dialog offers to stay signed in
  // (WCAG 2.2.1). Only what the teacher does counts: background polling does
  // not, as on the server. At the limit, the page shows the sign-in.
  document.addEventListener('DOMContentLoaded', function () {
    var dialog = document.getElementById('session-warning');
    if (!dialog || typeof dialog.showModal !== 'function') return;
    var warnAfter = Number(dialog.getAttribute('data-warn-after')) * 1000;
    var idle = Number(dialog.getAttribute('data-idle-seconds')) * 1000;
    var warnTimer, endTimer;
    function restart() {
      window.clearTimeout(warnTimer);
      window.clearTimeout(endTimer);
      warnTimer = window.setTimeout(function () { if (!dialog.open) dialog.showModal(); }, warnAfter);
      endTimer = window.setTimeout(function () { window.location.reload(); }, idle + 2000);
    }
    document.addEventListener('htmx:afterRequest', function (event) {
      var headers = event.detail.requestConfig && event.detail.requestConfig.headers;
      if (!(headers && headers['X-Background'])) restart();
    });
    dialog.querySelector('form.stay').addEventListener('submit', function (event) {
      event.preventDefault();
      var form = event.target;
      fetch(form.action, {method: 'POST', body: new FormData(form), credentials: 'same-origin',
                          headers: {'X-Requested-With': 'fetch'}})
        .then(function (response) {
          if (response.ok) { dialog.close(); restart(); } else { window.location.reload(); }
        }, function () { window.location.reload(); });
    });
    restart();
  });
  // With JavaScript on, every choice saves itself: the Save button is a fallback.
  document.documentElement.classList.add('js');
})();
