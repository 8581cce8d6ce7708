"""Issue 10 point 7: forms are checked by the server, in the page's language,
never by the browser's built-in English messages ("Please fill out this
field"): every form in every template says novalidate."""
import glob
import os
import re

PARTIALS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'partials')


def test_every_form_leaves_checking_to_the_server():
    forms = []
    for path in glob.glob(os.path.join(PARTIALS, '**', '*.html'), recursive=True):
        forms += [(path, tag) for tag in re.findall(r'<form\b[^>]*>', open(path).read())]
    assert len(forms) > 40
    assert [f for f in forms if 'novalidate' not in f[1]] == []


def test_a_missing_field_is_said_by_the_server_in_welsh(client):
    client.get('/login')
    client.post('/language', data={'lang': 'cy', 'next': '/login'})
    html = client.post('/login', data={'username': '', 'password': ''}).get_data(as_text=True)
    assert 'novalidate' in html and '<html lang="cy">' in html
