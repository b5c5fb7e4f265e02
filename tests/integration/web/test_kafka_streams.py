"""Users' Kafka credentials from the API and the profile page, and filter topics' ACLs
following the filter (public, private, deleted), read with the real ``lasair_consumer``
and confluent-kafka on the stack's user-facing listeners."""
from __future__ import annotations

import re

import pytest
import requests
from confluent_kafka import KafkaError

from web.sky import ID_COLUMNS

from .conftest import make_account
from .test_pages import csrf_of

pytestmark = pytest.mark.integration
DENIED = KafkaError.TOPIC_AUTHORIZATION_FAILED


def auth(account) -> dict:
    return {"Authorization": f"Token {account.token}"}


def credentials(server, account) -> dict:
    r = requests.post(f"{server.url}/api/kafka/", headers=auth(account))
    assert r.status_code == 200, r.text
    assert r.headers["Cache-Control"] == "no-store"
    return r.json()


def test_api_gives_connection_settings_and_a_password_once(server):
    account = make_account(server)
    assert requests.get(f"{server.url}/api/kafka/").status_code == 401
    assert requests.post(f"{server.url}/api/kafka/").status_code == 401
    r = requests.get(f"{server.url}/api/kafka/", headers=auth(account))
    assert r.status_code == 200
    settings = server.settings
    assert r.json() == {"bootstrap": settings.kafka_users,
                        "public_bootstrap": settings.kafka_public,
                        "security_protocol": "SASL_PLAINTEXT",
                        "sasl_mechanism": "SCRAM-SHA-512", "username": account.name}
    first, second = credentials(server, account), credentials(server, account)
    assert {k: v for k, v in first.items() if k != "password"} == r.json()
    assert len(first["password"]) >= 32 and first["password"] != second["password"]
    assert "password" not in requests.get(f"{server.url}/api/kafka/",
                                          headers=auth(account)).json()


def test_acls_follow_the_filter(server, kafka_io):
    alice, bob = make_account(server), make_account(server)
    alice_pw, bob_pw = credentials(server, alice)["password"], credentials(server, bob)["password"]
    oid = ID_COLUMNS[server.settings.survey]
    r = requests.post(f"{server.url}/api/filters/", headers=auth(alice), json={
        "name": "stream", "selected": f"objects.{oid}", "tables": "objects",
        "conditions": "objects.hpx16 > 0", "public": False, "run": 1, "output": 2})
    assert r.status_code == 201, r.text
    filter_id, topic = r.json()["id"], r.json()["topic"]
    settings = server.settings
    values = kafka_io.fill_topic(settings, topic, 2)  # as the filter stage would

    def anonymous():
        return kafka_io.read_anonymously(settings, topic, len(values))

    def as_user(account, password):
        return kafka_io.read_as(settings, topic, account.name, password, len(values))

    # private: the owner only
    assert anonymous().error.code() == DENIED
    assert as_user(bob, bob_pw).error.code() == DENIED
    assert as_user(alice, alice_pw).values == values
    # made public: anyone, without credentials, with the unchanged lasair_consumer
    r = requests.patch(f"{server.url}/api/filters/{filter_id}/", headers=auth(alice),
                       json={"public": True})
    assert r.status_code == 200, r.text
    got = anonymous()
    assert got.error is None and got.values == values
    assert as_user(bob, bob_pw).values == values
    # private again
    requests.patch(f"{server.url}/api/filters/{filter_id}/", headers=auth(alice),
                   json={"public": False}).raise_for_status()
    assert anonymous().error.code() == DENIED
    assert as_user(bob, bob_pw).error.code() == DENIED
    # a new password: the old one stops working, the new one reads
    new_pw = credentials(server, alice)["password"]
    assert as_user(alice, alice_pw).error.code() == KafkaError._AUTHENTICATION
    assert as_user(alice, new_pw).values == values
    # deleted: no one outside the workers
    r = requests.delete(f"{server.url}/api/filters/{filter_id}/", headers=auth(alice))
    assert r.status_code == 200
    assert as_user(alice, new_pw).error.code() == DENIED


def test_profile_page_shows_and_rotates_kafka_credentials(server):
    account = make_account(server)
    s = requests.Session()
    token = csrf_of(s.get(f"{server.url}/").text)
    r = s.post(f"{server.url}/login", data={"csrf_token": token, "username": account.name,
                                            "password": account.password})
    token = csrf_of(r.text)
    page = s.get(f"{server.url}/profile").text
    assert "You have no Kafka password yet" in page
    assert server.settings.kafka_users in page and server.settings.kafka_public in page
    r = s.post(f"{server.url}/profile/kafka", data={"csrf_token": token})
    assert r.status_code == 200
    password = re.search(r'<code id="kafka-password">([^<]+)</code>', r.text)[1]
    assert len(password) >= 32 and "shown only this once" in r.text
    page = s.get(f"{server.url}/profile").text
    assert password not in page and "You have a Kafka password" in page
    assert s.post(f"{server.url}/profile/kafka", data={}).status_code == 403  # no CSRF


def test_filter_page_snippet_uses_the_right_listener(server):
    alice = make_account(server)
    oid = ID_COLUMNS[server.settings.survey]
    made = {}
    for public in (True, False):
        r = requests.post(f"{server.url}/api/filters/", headers=auth(alice), json={
            "name": f"snippet {public}", "selected": f"objects.{oid}", "tables": "objects",
            "conditions": "objects.hpx16 > 0", "public": public, "run": 1, "output": 2})
        made[public] = r.json()
    s = requests.Session()
    token = csrf_of(s.get(f"{server.url}/").text)
    s.post(f"{server.url}/login", data={"csrf_token": token, "username": alice.name,
                                        "password": alice.password})
    public_page = s.get(f"{server.url}/filters/{made[True]['id']}").text
    assert f"lasair_consumer(&#39;{server.settings.kafka_public}&#39;" in public_page
    private_page = s.get(f"{server.url}/filters/{made[False]['id']}").text
    assert "lasair_consumer(" not in private_page
    assert f"&#39;sasl.username&#39;: &#39;{alice.name}&#39;" in private_page
    assert f"&#39;bootstrap.servers&#39;: &#39;{server.settings.kafka_users}&#39;" in private_page
