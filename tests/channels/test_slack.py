"""Slack incoming webhooks: Block Kit with an Acknowledge button, and Slack's error words."""

from __future__ import annotations

import pytest

from tests.channels.samples import TOKEN, answer_with, page, webhook_url
from tests.support.fake_http import Answer, FakeHTTPServer
from tocsin.channels import slack
from tocsin.channels.result import Outcome

MEMBER = "U024BE7LH"


@pytest.fixture
def slack_server(fake_http: FakeHTTPServer) -> FakeHTTPServer:
    fake_http.default = Answer(200, "ok", {"Content-Type": "text/html"})
    return fake_http


def slack_url(server: FakeHTTPServer) -> str:
    return webhook_url(server, "/services/T00000000/B00000000")


def test_a_page_has_a_header_the_text_fields_and_an_acknowledge_button(slack_server: FakeHTTPServer) -> None:
    result = slack.send(slack_url(slack_server), page(mention=MEMBER))
    assert (result.outcome, result.status) == (Outcome.OK, 200)
    (request,) = slack_server.requests
    assert request.route == f"/services/T00000000/B00000000/{TOKEN}"
    body = request.json()
    assert body["text"] == "<@U024BE7LH> [P1] INC-2026-11-23-001 Checkout is down"
    header, section, actions = body["blocks"]
    assert header == {
        "type": "header",
        "text": {"type": "plain_text", "text": "[P1] INC-2026-11-23-001 Checkout is down", "emoji": False},
    }
    assert section == {
        "type": "section",
        "text": {"type": "mrkdwn", "text": "<@U024BE7LH>\n5xx ratio 12% over 5m"},
        "fields": [
            {"type": "mrkdwn", "text": "*Service*\ncheckout"},
            {"type": "mrkdwn", "text": "*Status*\ntriggered"},
        ],
    }
    acknowledge, open_incident = actions["elements"]
    assert actions["type"] == "actions"
    assert acknowledge == {
        "type": "button",
        "text": {"type": "plain_text", "text": "Acknowledge"},
        "url": "https://tocsin.example.com/ack/eyJhbGciOi.sig",
        "action_id": "tocsin-acknowledge",
        "style": "danger",
    }
    assert open_incident["url"] == "https://tocsin.example.com/incidents/INC-2026-11-23-001"


def test_alert_text_cannot_smuggle_a_mention_or_link() -> None:
    body = slack.payload(page(mention=None, text="<!channel> see <https://evil.example|here> & co"))
    section = body["blocks"][1]
    assert section["text"]["text"] == "&lt;!channel&gt; see &lt;https://evil.example|here&gt; &amp; co"
    assert body["text"] == "[P1] INC-2026-11-23-001 Checkout is down"


def test_without_links_there_is_no_actions_block_and_without_text_no_section() -> None:
    blocks = slack.payload(page(mention=None, text="", fields=(), url=None, ack_url=None))["blocks"]
    assert [block["type"] for block in blocks] == ["header"]


def test_more_than_ten_fields_go_into_further_sections() -> None:
    fields = tuple((f"k{i}", f"v{i}") for i in range(23))
    blocks = slack.payload(page(fields=fields))["blocks"]
    sections = [block for block in blocks if block["type"] == "section"]
    assert [len(section["fields"]) for section in sections] == [10, 10, 3]


@pytest.mark.parametrize("name", ["slack_400", "slack_403", "slack_404", "slack_410"])
def test_slack_refusals_fail_at_once_with_slacks_code(slack_server: FakeHTTPServer, name: str) -> None:
    answer_with(slack_server, name)
    url = slack_url(slack_server)
    result = slack.send(url, page())
    assert result.outcome is Outcome.PERMANENT
    assert result.error is not None
    code = {"slack_400": "invalid_payload", "slack_403": "action_prohibited", "slack_404": "no_service"}.get(
        name, "channel_is_archived"
    )
    assert result.error.endswith(f"({code})")
    assert url not in result.error
    assert TOKEN not in result.error


def test_an_html_error_page_is_not_quoted(slack_server: FakeHTTPServer) -> None:
    slack_server.respond(404, f"<html>No such hook {TOKEN}</html>")
    result = slack.send(slack_url(slack_server), page())
    assert result.error == "127.0.0.1 refused the message: HTTP 404"


def test_a_rate_limit_is_retried_after_what_slack_asked(slack_server: FakeHTTPServer) -> None:
    answer_with(slack_server, "slack_429")
    result = slack.send(slack_url(slack_server), page())
    assert (result.outcome, result.status, result.retry_after) == (Outcome.RETRY, 429, 1.0)


def test_a_slack_outage_is_retried(slack_server: FakeHTTPServer) -> None:
    slack_server.respond(500, "internal_error")
    assert slack.send(slack_url(slack_server), page()).outcome is Outcome.RETRY


def test_a_team_channels_user_group_is_mentioned_as_a_subteam() -> None:
    body = slack.payload(page(mention="&S0614TZR7"))
    assert body["text"] == "<!subteam^S0614TZR7> [P1] INC-2026-11-23-001 Checkout is down"
    assert body["blocks"][1]["text"]["text"].startswith("<!subteam^S0614TZR7>\n")
