// IAMIS upload with tus-js-client: resumable, with progress. Without
// JavaScript the same form posts the file whole (blueprints/uploads.py).
(function () {
  if (!window.tus || !window.tus.isSupported) return;
  var token = JSON.parse(document.body.getAttribute('hx-headers') || '{}')['X-CSRFToken'];
  var words = document.querySelector('[data-upload-words]');
  function say(form, key, values) {
    var text = words.getAttribute('data-' + key);
    for (var name in values) text = text.replace('{' + name + '}', values[name]);
    form.querySelector('.progress').textContent = text;
  }
  function size(bytes) {
    var units = ['bytes', 'KB', 'MB', 'GB'], i = 0;
    while (bytes >= 1024 && i < units.length - 1) { bytes /= 1024; i++; }
    return (i ? bytes.toFixed(1) : bytes) + ' ' + units[i];
  }
  document.addEventListener('submit', function (event) {
    var form = event.target;
    if (!form.hasAttribute('data-tus')) return;
    var file = form.querySelector('input[type=file]').files[0];
    if (!file) return;
    event.preventDefault();
    var button = form.querySelector('button');
    button.disabled = true;
    var upload = new tus.Upload(file, {
      endpoint: form.getAttribute('data-tus'),
      headers: {'X-CSRFToken': token},
      chunkSize: 50 * 1024 * 1024,
      retryDelays: [0, 1000, 3000, 5000, 10000, 20000],
      removeFingerprintOnSuccess: true,
      // The same file for the same candidate carries on where it stopped.
      fingerprint: function (f) {
        return Promise.resolve(['iamis', form.getAttribute('data-entry'), f.name, f.size, f.lastModified].join('-'));
      },
      metadata: {unit: form.getAttribute('data-unit'), entry: form.getAttribute('data-entry'), filename: file.name},
      onProgress: function (sent, total) {
        say(form, 'uploading', {percent: Math.floor(sent / total * 100), sent: size(sent), total: size(total)});
      },
      onError: function (error) {
        var response = error.originalResponse;
        var said = response && response.getHeader('X-Portal-Message');
        form.querySelector('.progress').textContent = said ? decodeURIComponent(said) :
          words.getAttribute('data-failed');
        button.disabled = false;
      },
      onSuccess: function () {
        say(form, 'checking', {});
        window.location.reload();
      }
    });
    upload.findPreviousUploads().then(function (previous) {
      if (previous.length) upload.resumeFromPreviousUpload(previous[0]);
      upload.start();
    });
  });
})();
