"""A Flask app on the real Flask-Session 0.8, for the interop tests
(tests/tests/interop.rs). It is configured from the same SESSION_* variables
as the Rust side, and its routes mirror the demos' (design.md section 8) plus
what the interop scenarios need: a rich set of values, a JSON dump of the
session, the raw stored bytes, flashes and a Flask-Login-style login.

    FLASK_PORT=5000 SESSION_TYPE=redis SESSION_REDIS=redis://127.0.0.1:6379 \
        target/test-services/venv-flask/bin/python tests/flask_app/app.py

Variables (defaults are Flask-Session's):
  FLASK_PORT                          port on 127.0.0.1 (required)
  SESSION_TYPE                        redis | memcached | mongodb | sqlalchemy
  SESSION_KEY_PREFIX, SECRET_KEY, SESSION_USE_SIGNER, SESSION_PERMANENT,
  SESSION_SERIALIZATION_FORMAT, SESSION_COOKIE_NAME, SESSION_ID_LENGTH
  PERMANENT_SESSION_LIFETIME          seconds
  SESSION_REDIS                       a redis:// URL
  SESSION_MEMCACHED                   host:port (one server)
  SESSION_MONGODB                     a mongodb:// URL; SESSION_MONGODB_DB, SESSION_MONGODB_COLLECT
  SESSION_SQLALCHEMY                  an SQLAlchemy URL; SESSION_SQLALCHEMY_TABLE

The process exits (and ends the processes registered with POST /reap) when
its parent, the test binary, goes away.
"""

import base64
import datetime
import json
import os
import shutil
import signal
import sys
import threading
import time
import logging

import msgspec
from flask import Flask, Response, abort, flash, get_flashed_messages, request, session
from flask_login import LoginManager, UserMixin, current_user, login_user
from flask_session import Session

TRUE = {"1", "true", "yes", "on"}


def env_bool(name, default):
    value = os.environ.get(name)
    return default if value is None else value.strip().lower() in TRUE


def build_app():
    app = Flask(__name__)
    config = app.config
    kind = os.environ["SESSION_TYPE"]
    config["SESSION_TYPE"] = kind
    config["SECRET_KEY"] = os.environ.get("SECRET_KEY")
    config["SESSION_USE_SIGNER"] = env_bool("SESSION_USE_SIGNER", False)
    config["SESSION_PERMANENT"] = env_bool("SESSION_PERMANENT", True)
    config["SESSION_KEY_PREFIX"] = os.environ.get("SESSION_KEY_PREFIX", "session:")
    config["SESSION_SERIALIZATION_FORMAT"] = os.environ.get(
        "SESSION_SERIALIZATION_FORMAT", "msgpack"
    )
    config["SESSION_ID_LENGTH"] = int(os.environ.get("SESSION_ID_LENGTH", "32"))
    config["SESSION_COOKIE_NAME"] = os.environ.get("SESSION_COOKIE_NAME", "session")
    config["PERMANENT_SESSION_LIFETIME"] = int(
        os.environ.get("PERMANENT_SESSION_LIFETIME", str(31 * 86400))
    )
    if kind == "redis":
        import redis

        config["SESSION_REDIS"] = redis.Redis.from_url(os.environ["SESSION_REDIS"])
    elif kind == "memcached":
        from pymemcache.client.base import PooledClient

        host, port = os.environ["SESSION_MEMCACHED"].rsplit(":", 1)
        # pymemcache defaults to noreply: a write would return before memcached
        # stored it, and the Rust side could miss it (reference.md).
        # The app serves requests on threads (threaded=True below) and the
        # interop scenarios of one group run at once: pymemcache's base
        # Client is one socket with no lock, so two requests interleaved their
        # commands and read each other's replies (a 500 in open_session). The
        # pooled client gives each thread its own connection.
        config["SESSION_MEMCACHED"] = PooledClient(
            (host, int(port)), default_noreply=False
        )
    elif kind == "mongodb":
        from pymongo import MongoClient

        config["SESSION_MONGODB"] = MongoClient(os.environ["SESSION_MONGODB"])
        config["SESSION_MONGODB_DB"] = os.environ.get("SESSION_MONGODB_DB", "flask_session")
        config["SESSION_MONGODB_COLLECT"] = os.environ.get("SESSION_MONGODB_COLLECT", "sessions")
    elif kind == "sqlalchemy":
        from flask_sqlalchemy import SQLAlchemy

        config["SQLALCHEMY_DATABASE_URI"] = os.environ["SESSION_SQLALCHEMY"]
        config["SESSION_SQLALCHEMY"] = SQLAlchemy(app)
        config["SESSION_SQLALCHEMY_TABLE"] = os.environ.get("SESSION_SQLALCHEMY_TABLE", "sessions")
    else:
        raise SystemExit(f"unsupported SESSION_TYPE {kind!r}")
    Session(app)
    login_manager = LoginManager(app)
    login_manager.user_loader(User)
    return app


class User(UserMixin):
    """Any id is a user: the tests check whose session it is, not who exists."""

    def __init__(self, user_id):
        self.id = user_id


app = build_app()
interface = app.session_interface


def tagged(value):
    """The session value as JSON can show it, with bytes and datetimes tagged
    so that a test sees when one turned into text."""
    if isinstance(value, bytes):
        return {"$bytes": base64.b64encode(value).decode()}
    if isinstance(value, datetime.datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, (list, tuple)):
        return [tagged(v) for v in value]
    if isinstance(value, dict):
        return {k: tagged(v) for k, v in value.items()}
    return value


def json_response(value, status=200):
    return Response(json.dumps(value, separators=(",", ":")), status, mimetype="application/json")


def rich_values(extended):
    """Strings, ints of every msgpack width (large and negative too), floats,
    bools, None, lists, nested dicts, and the keys Flask's ecosystem writes.
    `extended` adds bytes and a timezone-aware datetime (msgpack bin and
    timestamp)."""
    values = {
        "greeting": "hello",
        "empty": "",
        "unicode": "h\u00e9llo \u2713 \U0001f600",
        "escapes": 'quote " backslash \\ newline \n tab \t nul \u0000',
        "long_text": "x" * 300,
        "zero": 0,
        "small": 7,
        "neg_fix": -5,
        "byte": 200,
        "neg_byte": -100,
        "short": 60000,
        "neg_short": -30000,
        "int32": 4000000000,
        "neg_int32": -2000000000,
        "big": 2**53 + 1,
        "uint64_max": 2**64 - 1,
        "int64_min": -(2**63),
        "pi": 3.141592653589793,
        "tenth": 0.1,
        "one": 1.0,
        "negative_float": -2.5,
        "huge_float": 1e300,
        "tiny_float": 5e-324,
        "yes": True,
        "no": False,
        "nothing": None,
        "list": [1, "two", 3.0, None, True, [], {}],
        "nested": {"a": {"b": {"c": [1, 2, {"d": "e"}]}}, "empty": {}, "n": -1},
        "_user_id": "42",
        "_fresh": True,
        "_id": "ab" * 64,
        "csrf_token": "f" * 40,
    }
    if extended:
        values["raw_bytes"] = b"\x00\x01\xfe\xff"
        values["empty_bytes"] = b""
        values["long_bytes"] = bytes(range(256)) * 2
        utc = datetime.timezone.utc
        # The three msgpack timestamp forms: 64-bit, 32-bit, 96-bit.
        values["when"] = datetime.datetime(2026, 11, 25, 12, 30, 45, 123456, tzinfo=utc)
        values["when_whole"] = datetime.datetime(2026, 1, 1, tzinfo=utc)
        values["when_old"] = datetime.datetime(1969, 7, 20, 20, 17, 40, 5, tzinfo=utc)
    return values


@app.get("/health")
def health():
    return "ok"


@app.post("/rich")
def rich():
    for key, value in rich_values(request.args.get("extended") == "1").items():
        session[key] = value
    flash("saved", "info")
    flash("bad", "error")
    flash("plain")
    return "", 204


@app.get("/dump")
def dump():
    """The session as Flask reads it. With ?lossy=1, as it would read after a
    round trip through msgspec's JSON (the documented JSON losses)."""
    data = dict(session)
    if request.args.get("lossy") == "1":
        data = msgspec.json.decode(msgspec.json.encode(data))
    return json_response(tagged(data))


@app.get("/raw")
def raw():
    """The stored bytes of this request's session, as hex; 404 when the store
    has no record for the cookie's sid. Read in the handler, before Flask's
    own save rewrites the record."""
    key = interface._get_store_id(session.sid)
    kind = app.config["SESSION_TYPE"]
    if kind in ("redis", "memcached"):
        value = interface.client.get(key)
    elif kind == "mongodb":
        document = interface.store.find_one({"id": key})
        value = None if document is None else bytes(document["val"])
    else:
        model = interface.sql_session_model
        record = model.query.filter_by(session_id=key).first()
        value = None if record is None else bytes(record.data)
    if value is None:
        abort(404)
    return bytes(value).hex()


@app.get("/flashes")
def flashes():
    return json_response([list(pair) for pair in get_flashed_messages(with_categories=True)])


@app.post("/flash/<category>")
def flash_message(category):
    flash(request.get_data(as_text=True), category)
    return "", 204


@app.post("/login/<user_id>")
def login(user_id):
    """What Flask-Login's login_user() writes (with session protection on)."""
    session["_user_id"] = user_id
    session["_fresh"] = True
    session["_id"] = "cd" * 64
    return "", 204


@app.post("/flask-login/login/<user_id>")
def flask_login_login(user_id):
    """The real Flask-Login's login_user()."""
    login_user(User(user_id))
    return "", 204


@app.get("/flask-login/whoami")
def flask_login_whoami():
    """Flask-Login's current_user: its id, or 401 when anonymous."""
    if not current_user.is_authenticated:
        return "", 401
    return current_user.get_id()


@app.put("/kv/<key>")
def put_kv(key):
    session[key] = request.get_data(as_text=True)
    return "", 204


@app.get("/kv/<key>")
def get_kv(key):
    if key not in session:
        abort(404)
    value = session[key]
    if isinstance(value, str):
        return value
    return json.dumps(tagged(value), separators=(",", ":"))


@app.post("/regenerate")
def regenerate():
    interface.regenerate(session)
    return "", 204


@app.post("/clear")
def clear():
    session.clear()
    return "", 204


@app.post("/permanent/<flag>")
def permanent(flag):
    session.permanent = flag == "true"
    return "", 204


@app.post("/cleanup")
def cleanup():
    """Removes every record of this app's namespace: the keys under its
    prefix, its collection or its table. memcached cannot list keys: its
    items are left to expire."""
    kind = app.config["SESSION_TYPE"]
    if kind == "redis":
        keys = list(interface.client.scan_iter(match=interface.key_prefix + "*", count=1000))
        if keys:
            interface.client.delete(*keys)
    elif kind == "mongodb":
        interface.store.drop()
    elif kind == "sqlalchemy":
        db = app.config["SESSION_SQLALCHEMY"]
        db.session.remove()
        interface.sql_session_model.__table__.drop(bind=db.engine, checkfirst=True)
    return "", 204


# Processes and directories to remove with this one (the Rust demo of the
# same test group), registered by the test binary.
REAP = {"pids": [], "dirs": []}


@app.post("/reap")
def reap():
    body = request.get_json(force=True)
    REAP["pids"].extend(int(p) for p in body.get("pids", []))
    REAP["dirs"].extend(body.get("dirs", []))
    return "", 204


def watch_parent():
    parent = os.getppid()
    while os.getppid() == parent:
        time.sleep(0.2)
    for pid in REAP["pids"]:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    time.sleep(0.2)
    for path in REAP["dirs"]:
        shutil.rmtree(path, ignore_errors=True)
    os._exit(0)


if __name__ == "__main__":
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    threading.Thread(target=watch_parent, daemon=True).start()
    port = int(os.environ["FLASK_PORT"])
    sys.stdout.flush()
    app.run(host="127.0.0.1", port=port, threaded=True, use_reloader=False)
