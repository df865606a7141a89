"""The sans-I/O AGI protocol: every parsing rule and malformed input, without sockets."""

from __future__ import annotations

import pytest

from ivr.agi.protocol import MAX_HEADER_BYTES, AgiReply, ReplyReader, format_command, parse_request
from ivr.errors import AgiProtocolError

# As Asterisk 16 sends it (captured from the test PBX, trimmed).
HEADER = (
    b"agi_network: yes\n"
    b"agi_network_script: ivr/main\n"
    b"agi_request: agi://127.0.0.1:4573/ivr/main\n"
    b"agi_channel: PJSIP/trunk-00000007\n"
    b"agi_language: zh\n"
    b"agi_type: PJSIP\n"
    b"agi_uniqueid: 1795234489.12\n"
    b"agi_callerid: 13800138001\n"
    b"agi_calleridname: unknown\n"
    b"agi_dnid: 12345\n"
    b"agi_context: hotline-call\n"
    b"agi_extension: s\n"
    b"agi_priority: 3\n"
    b"agi_enhanced: 0.0\n"
    b"agi_accountcode: \n"
    b"agi_threadid: 139872\n\n"
)


def test_request_header_is_parsed() -> None:
    req = parse_request(HEADER)
    assert req.script == "ivr/main"
    assert req.channel == "PJSIP/trunk-00000007"
    assert req.uniqueid == "1795234489.12"
    assert req.caller_number == "13800138001"
    assert req.dialled == "12345"
    assert req.headers["agi_accountcode"] == ""


@pytest.mark.parametrize(
    ("block", "message"),
    [
        (b"\x00\xff\xfe garbage\n\n", "not UTF-8"),
        (b"GET / HTTP/1.1\nHost: x\n\n", "not an AGI header line"),
        (b"agi_network: yes\n\n", "lacks agi_request, agi_channel, agi_uniqueid"),
        (b"agi_request: x\nagi_x: " + b"A" * MAX_HEADER_BYTES + b"\n\n", "longer than"),
    ],
)
def test_malformed_headers_are_rejected_with_the_reason(block: bytes, message: str) -> None:
    with pytest.raises(AgiProtocolError, match=message):
        parse_request(block)


def feed(lines: list[bytes]) -> tuple[list[AgiReply], ReplyReader]:
    reader = ReplyReader()
    out = [r for line in lines if (r := reader.feed(line)) is not None]
    return out, reader


def test_replies_digits_timeouts_and_variables() -> None:
    replies, _ = feed(
        [
            b"200 result=57 endpos=20911\n",  # '9' pressed during STREAM FILE
            b"200 result=0 endpos=70747\n",  # played to the end
            b"200 result= (timeout)\n",  # GET DATA with nothing keyed
            b"200 result=1234 (timeout)\n",  # GET DATA: digits then silence
            b"200 result=1 (zh)\n",  # GET VARIABLE
        ]
    )
    assert [r.digit for r in replies[:2]] == ["9", None]
    assert replies[0].rest == "endpos=20911"
    assert (replies[2].result, replies[2].data) == ("", "timeout")
    assert (replies[3].result, replies[3].data) == ("1234", "timeout")
    assert replies[4].data == "zh"


def test_trying_is_provisional_and_usage_errors_span_lines() -> None:
    replies, _ = feed(
        [
            b"100 result=0 Trying...\n",
            b"200 result=0\n",
            b"520-Invalid command syntax.  Proper usage follows:\n",
            b"Usage: STREAM FILE <filename> <escape digits> [sample offset]\n",
            b"520 End of proper usage.\n",
            b"510 Invalid or unknown command\n",
        ]
    )
    assert [r.code for r in replies] == [200, 520, 510]
    assert "Usage: STREAM FILE" in replies[1].usage


def test_hangup_notice_is_remembered_and_the_reply_still_read() -> None:
    replies, reader = feed(
        [b"HANGUP\n", b"200 result=-1 endpos=1000\n", b"511 Command Not Permitted\n"]
    )
    assert reader.hangup_seen
    assert [(r.code, r.result) for r in replies] == [(200, "-1"), (511, "")]


def test_garbage_reply_is_a_protocol_error() -> None:
    with pytest.raises(AgiProtocolError, match="not an AGI reply"):
        ReplyReader().feed(b"hello there\n")


def test_commands_are_quoted_and_line_breaks_refused() -> None:
    assert format_command("STREAM", "FILE", "/p/zh/welcome.tts", "0123456789*#") == (
        b"STREAM FILE /p/zh/welcome.tts 0123456789*#\n"
    )
    assert format_command("SET", "VARIABLE", "X", 'a "b" c') == (b'SET VARIABLE X "a \\"b\\" c"\n')
    assert format_command("SET", "VARIABLE", "X", "") == b'SET VARIABLE X ""\n'
    with pytest.raises(ValueError, match="line break"):
        format_command("SET", "VARIABLE", "X", "a\nHANGUP")
