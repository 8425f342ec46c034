"""A mail-client session with Python's imaplib against the Marmot IMAP server.

Run by imaplib.test.ts: argv is host, port, user, password, CA file. Prints one JSON object with what the
server answered at each step; the TypeScript test asserts on it. Any protocol error ends the run with a
traceback (non-zero exit), which fails the test.
"""
import imaplib
import json
import ssl
import sys
import time

host, port, user, password, cafile = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
result = {}


def text(data):
    """imaplib answers lists of bytes or (bytes, bytes) tuples; flatten them to strings."""
    out = []
    for item in data:
        if item is None:
            continue
        if isinstance(item, tuple):
            out.append(b''.join(part for part in item if isinstance(part, bytes)).decode('utf-8', 'replace'))
        else:
            out.append(item.decode('utf-8', 'replace'))
    return out


def check(answer):
    status, data = answer
    if status != 'OK':
        raise RuntimeError(f'command failed: {status} {data!r}')
    return data


def message(subject, body, message_id, references=None, date='Mon, 2 Mar 2026 10:00:00 +0000', sender='Carol <carol@example.test>'):
    lines = [
        f'From: {sender}',
        'To: alice@example.test',
        f'Subject: {subject}',
        f'Date: {date}',
        f'Message-ID: {message_id}',
    ]
    if references:
        lines.append(f'References: {references}')
        lines.append(f'In-Reply-To: {references.split()[-1]}')
    lines += ['', body, '']
    return '\r\n'.join(lines).encode()


imap = imaplib.IMAP4(host, port)
result['greeting_capabilities'] = sorted(imap.capabilities)
try:
    imap.login(user, password)
    result['plaintext_login'] = 'accepted'
except imaplib.IMAP4.error as error:
    result['plaintext_login'] = str(error)
context = ssl.create_default_context(cafile=cafile)
context.check_hostname = False
check(imap.starttls(ssl_context=context))
check(imap.login(user, password))
result['capabilities'] = text(check(imap.capability()))[0].split()

# Mailbox management.
check(imap.create('Py/Sub'))
check(imap.rename('Py', 'Python'))
result['list_after_rename'] = text(check(imap.list('""', 'Python*')))
check(imap.delete('Python/Sub'))
result['list_after_delete'] = text(check(imap.list('""', 'Python*')))
check(imap.subscribe('Python'))
result['lsub'] = text(check(imap.lsub('""', 'Py*')))
result['namespace'] = text(check(imap.namespace()))

# Messages: a thread of three and one unrelated message.
when = imaplib.Time2Internaldate(time.mktime((2026, 3, 2, 12, 0, 0, 0, 0, -1)))
check(imap.append('Python', r'(\Flagged)', when, message('Plans', 'kick-off', '<p1@example.test>', date='Mon, 2 Mar 2026 10:00:00 +0000')))
check(imap.append('Python', None, None, message('Re: Plans', 'agreed', '<p2@example.test>', '<p1@example.test>', date='Tue, 3 Mar 2026 10:00:00 +0000', sender='Dave <dave@example.test>')))
check(imap.append('Python', None, None, message('Zebra facts', 'stripes', '<z1@example.test>', date='Wed, 4 Mar 2026 10:00:00 +0000', sender='Bob <bob@example.test>')))
appended = check(imap.append('Python', None, None, message('Re: Re: Plans', 'see you', '<p3@example.test>', '<p1@example.test> <p2@example.test>', date='Thu, 5 Mar 2026 10:00:00 +0000')))
result['appenduid'] = imap.untagged_responses.get('APPENDUID') and text(imap.untagged_responses['APPENDUID']) or text(appended)

# \Recent: nobody has selected Python yet, so all four are recent; this session takes them, a second
# session selecting after it gets none.
result['status_recent'] = text(check(imap.status('Python', '(MESSAGES RECENT)')))
result['select'] = text(check(imap.select('Python')))
result['recent'] = text(check(imap.recent()))
second = imaplib.IMAP4(host, port)
check(second.starttls(ssl_context=context))
check(second.login(user, password))
check(second.select('Python', readonly=True))
result['second_recent'] = text(check(second.recent()))
result['second_flags'] = text(check(second.fetch('1', '(FLAGS)')))
result['second_search_recent'] = text(check(second.search(None, 'RECENT')))
second.logout()
result['fetch_items'] = text(check(imap.fetch('1', '(UID FLAGS INTERNALDATE RFC822.SIZE ENVELOPE BODYSTRUCTURE BODY.PEEK[HEADER.FIELDS (SUBJECT)])')))
result['fetch_text'] = text(check(imap.fetch('2', '(RFC822.TEXT)')))
result['flags_after_text'] = text(check(imap.fetch('2', '(FLAGS)')))
result['fetch_partial'] = text(check(imap.uid('FETCH', '3', '(BODY.PEEK[TEXT]<0.3>)')))
result['search_recent'] = text(check(imap.search(None, 'RECENT')))
result['search_new'] = text(check(imap.search(None, 'NEW')))

result['search_unseen'] = text(check(imap.search(None, 'UNSEEN')))
result['search_or'] = text(check(imap.search(None, '(OR FLAGGED SUBJECT "zebra")')))
result['search_not'] = text(check(imap.uid('SEARCH', 'NOT', 'FROM', 'carol')))
result['search_utf8'] = text(check(imap.search('UTF-8', 'BODY', 'STRIPES')))
result['search_since'] = text(check(imap.search(None, 'SENTSINCE', '04-Mar-2026')))

result['sort_subject'] = text(check(imap.sort('(SUBJECT)', 'UTF-8', 'ALL')))
result['sort_reverse_date'] = text(check(imap.sort('(REVERSE DATE)', 'UTF-8', 'ALL')))
result['uid_sort_from'] = text(check(imap.uid('SORT', '(FROM)', 'UTF-8', 'ALL')))
result['thread_references'] = text(check(imap.thread('REFERENCES', 'UTF-8', 'ALL')))
result['thread_orderedsubject'] = text(check(imap.thread('ORDEREDSUBJECT', 'UTF-8', 'ALL')))

# Flags, copy, move, expunge.
result['store'] = text(check(imap.store('3', '+FLAGS', r'(\Deleted)')))
check(imap.copy('1', 'Archive'))
result['copyuid'] = text(imap.untagged_responses.get('COPYUID', []))
move = imap.uid('MOVE', '4', 'Trash')
result['move'] = [move[0]] + text(move[1])
expunge = check(imap.expunge())
result['expunge'] = text(expunge)
result['search_after'] = text(check(imap.uid('SEARCH', 'ALL')))
result['status_archive'] = text(check(imap.status('Archive', '(MESSAGES UIDNEXT UNSEEN)')))
check(imap.close())
imap.logout()

# An IMAP4rev2 session: no RECENT on SELECT but a LIST line, and SEARCH answered with ESEARCH.
rev2 = imaplib.IMAP4(host, port)
check(rev2.starttls(ssl_context=context))
check(rev2.login(user, password))
check(rev2.enable('IMAP4rev2'))
result['rev2_enabled'] = text(rev2.untagged_responses.get('ENABLED', []))
check(rev2.select('Python', readonly=True))
result['rev2_select'] = sorted(rev2.untagged_responses.keys())
result['rev2_select_list'] = text(rev2.untagged_responses.get('LIST', []))
check(rev2.search(None, 'ALL'))
result['rev2_esearch'] = text(rev2.untagged_responses.get('ESEARCH', []))
rev2.logout()
print(json.dumps(result))
