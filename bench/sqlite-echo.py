# bench/sqlite-echo.py DB: the SQLite peer of pqueue push --sync, through
# Python's sqlite3 module (the system's libsqlite3). Each line of stdin is
# one autocommit INSERT into a WAL database with synchronous=FULL (one
# durable transaction per message), then echoed to stdout as the
# acknowledgement, so pqueue-bench path times it the way it times pqueue.
import sqlite3
import sys

db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("PRAGMA journal_mode=WAL")
db.execute("PRAGMA synchronous=FULL")
db.execute("CREATE TABLE IF NOT EXISTS q (id INTEGER PRIMARY KEY, body BLOB)")
inp = sys.stdin.buffer
out = sys.stdout.buffer
while True:
    line = inp.readline()
    if not line:
        break
    db.execute("INSERT INTO q (body) VALUES (?)", (line,))
    out.write(line)
    out.flush()
