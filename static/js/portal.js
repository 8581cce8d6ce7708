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
  // A request that failed outright (network, server) must not look saved.
  document.addEventListener('htmx:sendError', function (event) { warn(event, 'data-request-failed'); });
  document.addEventListener('htmx:responseError', function (event) {
    if (event.detail.xhr && event.detail.xhr.getResponseHeader('HX-Redirect')) return;
    warn(event, 'data-request-failed');
  });
  function warn(event, attribute) {
    var row = event.detail.elt && event.detail.elt.closest('tr');
    var text = document.body.getAttribute(attribute);
    if (row) { row.classList.add('problem'); row.setAttribute('title', text); }
    else { window.alert(text); }
  }
  // With JavaScript on, every choice saves itself: the Save button is a fallback.
  document.documentElement.classList.add('js');
})();
