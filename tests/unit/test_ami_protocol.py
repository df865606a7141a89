"""The sans-I/O AMI protocol (``telephony.ami.protocol``): pure, fast, no Asterisk.

Every test feeds bytes and reads items; the stream-level properties (any split into reads gives
the same items, a bad message costs nothing else) are checked on a stream that holds every kind
of message the parser knows.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from telephony.ami.events import AmiEvent, AmiResponse
from telephony.ami.protocol import (
    AmiBanner,
    AmiMalformed,
    AmiProtocol,
    NeedData,
    Received,
)
from telephony.errors import AmiProtocolError

DATA = Path(__file__).resolve().parents[1] / "data"
T = 1000.0  # received_at of every read


def msg(*lines: str) -> bytes:
    return ("".join(f"{line}\r\n" for line in lines) + "\r\n").encode("utf-8")


def drain(ami: AmiProtocol) -> list[Received]:
    out: list[Received] = []
    while not isinstance(item := ami.next_event(), NeedData):
        out.append(item)
    return out


def feed(ami: AmiProtocol, data: bytes, *cuts: int, eof: bool = False) -> list[Received]:
    """``data`` in reads cut at ``cuts``; every item parsed."""
    edges = [0, *cuts, len(data)]
    for a, b in itertools.pairwise(edges):
        if b > a:
            ami.receive_data(data[a:b], T)
    if eof:
        ami.receive_data(b"", T)
    return drain(ami)


def events(items: list[Received]) -> list[AmiEvent]:
    return [i for i in items if isinstance(i, AmiEvent)]


# -- a stream with everything -------------------------------------------------------------------
def full_stream() -> tuple[AmiProtocol, bytes]:
    """A fresh protocol with two actions sent, and a PBX's answer stream holding a banner,
    events (one with a repeated key, one with a bad timestamp, one not UTF-8), a login reply, a
    list reply with an unsolicited event inside, a lost blank line, garbage, an answer to an
    action that is not ours, and a Response: Follows."""
    ami = AmiProtocol(max_message_size=2048)
    login_id, _ = ami.send_action({"Action": "Login", "Username": "u", "Secret": "s"})
    list_id, _ = ami.send_action({"Action": "CoreShowChannels"})
    cmd_id, _ = ami.send_action({"Action": "Command", "Command": "core show version"})
    assert (login_id, list_id, cmd_id) == ("hotline-1", "hotline-2", "hotline-3")
    data = b"".join(
        [
            b"Asterisk Call Manager/5.0.2\r\n",
            msg("Response: Success", f"ActionID: {login_id}", "Message: Authentication accepted"),
            msg("Event: FullyBooted", "Privilege: system,all", "Status: Fully Booted"),
            msg("Event: Newchannel", "Timestamp: 1795237740.798239", "Uniqueid: 1.1"),
            msg(
                "Response: Success",
                f"ActionID: {list_id}",
                "EventList: start",
                "Message: Channels will follow",
            ),
            msg("Event: CoreShowChannel", f"ActionID: {list_id}", "Channel: PJSIP/a-1"),
            msg("Event: Hangup", "Timestamp: 1795237741.000001", "Uniqueid: 1.1"),
            msg("Event: CoreShowChannel", f"ActionID: {list_id}", "Channel: PJSIP/b-2"),
            msg(
                "Event: CoreShowChannelsComplete",
                f"ActionID: {list_id}",
                "EventList: Complete",
                "ListItems: 2",
            ),
            msg("Event: VarSet", "ChanVariable: A=1", "ChanVariable: B=2", "Value: "),
            # The blank line after this event is missing: the next Event line starts anew.
            b"Event: Lost\r\nUniqueid: 2.1\r\n",
            msg("Event: Found", "Timestamp: not-a-time", "Uniqueid: 2.1"),
            b"\x00\xff garbage \xfe\r\n\r\n",
            msg("Event: Newchannel", "CallerIDName: \xe5\xbc\xa0".encode("latin-1").decode()),
            "Event: Newchannel\r\nCallerIDName: caf\xe9\r\n\r\n".encode("latin-1"),
            msg("Response: Success", "ActionID: someone-else-7", "Ping: Pong"),
            b"Response: Follows\r\nPrivilege: Command\r\nActionID: "
            + cmd_id.encode()
            + b"\r\nAsterisk 13.38.3 built by x\n--END COMMAND--\r\n\r\n",
            msg("Event: Last", "Uniqueid: 3.1"),
        ]
    )
    return ami, data


def check_full(items: list[Received]) -> None:
    """What ``full_stream`` must give, in order."""
    kinds = [type(i).__name__ for i in items]
    assert kinds == [
        "AmiBanner",
        "AmiResponse",  # login
        "AmiEvent",  # FullyBooted
        "AmiEvent",  # Newchannel
        "AmiEvent",  # Hangup, unsolicited, inside the list
        "AmiResponse",  # the list, whole, once its Complete came
        "AmiEvent",  # VarSet
        "AmiEvent",  # Lost
        "AmiEvent",  # Found
        "AmiMalformed",  # garbage
        "AmiEvent",  # UTF-8 caller name
        "AmiEvent",  # Latin-1 caller name
        "AmiResponse",  # not ours
        "AmiResponse",  # Follows
        "AmiEvent",  # Last
    ], kinds
    banner = items[0]
    assert isinstance(banner, AmiBanner) and banner.version == "5.0.2"
    login = items[1]
    assert isinstance(login, AmiResponse) and login.success and login.action_id == "hotline-1"
    assert login.message == "Authentication accepted" and login.events == ()
    newchannel = items[3]
    assert isinstance(newchannel, AmiEvent)
    assert newchannel.at == 1795237740.798239 and newchannel.received_at == T
    listed = items[5]
    assert isinstance(listed, AmiResponse) and listed.action_id == "hotline-2"
    assert [e.get("Channel") for e in listed.events] == ["PJSIP/a-1", "PJSIP/b-2"]
    assert listed.complete is not None and listed.complete.get("ListItems") == "2"
    varset = items[6]
    assert isinstance(varset, AmiEvent)
    assert varset.get("ChanVariable") == "B=2" and varset.get("Value", "x") == ""
    assert [e.name for e in events(items)][4:6] == ["Lost", "Found"]
    found = items[8]
    assert isinstance(found, AmiEvent) and found.at == T  # an unreadable Timestamp
    garbage = items[9]
    assert isinstance(garbage, AmiMalformed) and b"garbage" in garbage.data
    assert isinstance(items[10], AmiEvent) and items[10].get("CallerIDName") == "张"
    assert isinstance(items[11], AmiEvent) and items[11].get("CallerIDName") == "caf\ufffd"
    other = items[12]
    assert isinstance(other, AmiResponse) and other.action_id == "someone-else-7"
    follows = items[13]
    assert isinstance(follows, AmiResponse) and follows.status == "Follows" and follows.success
    assert follows.action_id == "hotline-3"
    assert follows.output == ["Asterisk 13.38.3 built by x"]


def test_everything_in_one_read() -> None:
    ami, data = full_stream()
    check_full(feed(ami, data, eof=True))
    assert ami.awaiting == []


def test_split_at_every_byte_boundary_gives_the_same_items() -> None:
    _, data = full_stream()
    for cut in range(1, len(data)):
        ami, _ = full_stream()
        items = feed(ami, data, cut, eof=True)
        try:
            check_full(items)
        except AssertionError as exc:
            raise AssertionError(f"split at byte {cut}: {exc}") from None


def test_one_byte_per_read() -> None:
    ami, data = full_stream()
    check_full(feed(ami, data, *range(1, len(data)), eof=True))


@pytest.mark.parametrize("name", ["answered.ami", "transfer.ami"])
def test_recorded_stream_byte_by_byte_equals_one_read(name: str) -> None:
    data = (DATA / name).read_bytes()
    whole = feed(AmiProtocol(), data, eof=True)
    assert len(whole) > 50 and all(isinstance(i, AmiEvent) for i in whole)
    assert feed(AmiProtocol(), data, *range(1, len(data)), eof=True) == whole


# -- framing ------------------------------------------------------------------------------------
def test_banner_is_optional_and_read_only_at_the_start() -> None:
    ami = AmiProtocol()
    items = feed(ami, msg("Event: A") + b"Asterisk Call Manager/5.0.2\r\n" + msg("Event: B"))
    assert ami.banner is None
    assert [type(i).__name__ for i in items] == ["AmiEvent", "AmiMalformed", "AmiEvent"]


def test_banner_split_inside_its_prefix() -> None:
    ami = AmiProtocol()
    assert feed(ami, b"Aster") == []
    (banner,) = feed(ami, b"isk Call Manager/2.10.6\r\n")
    assert isinstance(banner, AmiBanner) and banner.version == "2.10.6"


def test_extra_blank_lines_between_messages_are_ignored() -> None:
    items = feed(AmiProtocol(), b"\r\n\r\n" + msg("Event: A") + b"\r\n\r\n\r\n" + msg("Event: B"))
    assert [e.name for e in events(items)] == ["A", "B"] and len(items) == 2


def test_missing_blank_line_between_response_and_event() -> None:
    ami = AmiProtocol()
    aid, _ = ami.send_action({"Action": "Ping"})
    items = feed(
        ami, f"Response: Success\r\nActionID: {aid}\r\nPing: Pong\r\nEvent: X\r\n\r\n".encode()
    )
    assert isinstance(items[0], AmiResponse) and items[0].get("Ping") == "Pong"
    assert "Event" not in items[0].headers
    assert isinstance(items[1], AmiEvent) and items[1].name == "X"


def test_missing_blank_line_between_two_responses() -> None:
    ami = AmiProtocol()
    a, _ = ami.send_action({"Action": "Ping"})
    b, _ = ami.send_action({"Action": "Ping"})
    items = feed(
        ami,
        f"Response: Success\r\nActionID: {a}\r\n".encode()
        + msg("Response: Error", f"ActionID: {b}", "Message: nope"),
    )
    assert [(r.status, r.action_id) for r in items if isinstance(r, AmiResponse)] == [
        ("Success", a),
        ("Error", b),
    ]


def test_originate_response_keeps_its_own_response_header() -> None:
    """The careful path (taken here for the repeated Variable) must not split it."""
    items = feed(
        AmiProtocol(),
        msg(
            "Event: OriginateResponse",
            "ActionID: x",
            "Response: Failure",
            "Variable: a",
            "Variable: b",
            "Reason: 0",
        ),
    )
    (ev,) = items
    assert isinstance(ev, AmiEvent) and ev.get("Response") == "Failure" and ev.get("Reason") == "0"


def test_key_without_space_and_lines_without_colon() -> None:
    items = feed(AmiProtocol(), msg("Event: A", "Empty:", "Tight:value", "no colon here", "B: 1"))
    malformed, ev = items
    assert isinstance(malformed, AmiMalformed) and b"no colon here" in malformed.data
    assert isinstance(ev, AmiEvent)
    assert (ev.get("Empty", "x"), ev.get("Tight"), ev.get("B")) == ("", "value", "1")


def test_garbage_loses_nothing_else() -> None:
    items = feed(
        AmiProtocol(),
        msg("Event: A") + b"\xff\xfe\x00\x01\r\n\r\n" + b"Foo: bar\r\n\r\n" + msg("Event: B"),
    )
    assert [type(i).__name__ for i in items] == [
        "AmiEvent",
        "AmiMalformed",
        "AmiMalformed",  # headers, but neither Event nor Response
        "AmiEvent",
    ]
    bad = items[2]
    assert isinstance(bad, AmiMalformed)
    assert "Event or Response" in bad.reason and isinstance(bad.error(), AmiProtocolError)


@pytest.mark.parametrize("read", [1, 7, 100, 10_000])
def test_huge_header_is_reported_and_skipped(read: int) -> None:
    ami = AmiProtocol(max_message_size=1024)
    data = msg("Event: A") + msg("Event: Huge", "Blob: " + "x" * 5000) + msg("Event: B")
    items = feed(ami, data, *range(read, len(data), read), eof=True)
    assert [type(i).__name__ for i in items] == ["AmiEvent", "AmiMalformed", "AmiEvent"]
    huge = items[1]
    assert isinstance(huge, AmiMalformed) and "larger than 1024 bytes" in huge.reason
    assert huge.data.startswith(b"Event: Huge") and len(huge.data) <= 200
    assert [e.name for e in events(items)] == ["A", "B"]


def test_a_message_just_under_the_limit_passes() -> None:
    ami = AmiProtocol(max_message_size=1024)
    line = "Blob: " + "x" * (1024 - len("Event: Big\r\n") - len("Blob: \r\n") - 2)
    data = msg("Event: Big", line)
    (ev,) = feed(ami, data, *range(5, len(data), 5))
    assert isinstance(ev, AmiEvent) and ev.name == "Big"


def test_stream_cut_inside_a_message() -> None:
    ami = AmiProtocol()
    items = feed(ami, msg("Event: A") + b"Event: B\r\nUniq", eof=True)
    assert [type(i).__name__ for i in items] == ["AmiEvent", "AmiMalformed"]
    assert isinstance(items[1], AmiMalformed) and items[1].data == b"Event: B\r\nUniq"
    with pytest.raises(AmiProtocolError, match="after the end"):
        ami.receive_data(b"more")


# -- actions and their answers ------------------------------------------------------------------
def test_send_action_bytes() -> None:
    ami = AmiProtocol(id_prefix="svc")
    aid, data = ami.send_action(
        {"Action": "Originate", "Channel": "Local/1@x", "Variable": ["A=1", "B=2"]}
    )
    assert aid == "svc-1"
    assert data == (
        b"Action: Originate\r\nActionID: svc-1\r\nChannel: Local/1@x\r\n"
        b"Variable: A=1\r\nVariable: B=2\r\n\r\n"
    )
    given, _ = ami.send_action({"Action": "Ping", "ActionID": "mine"})
    assert given == "mine" and ami.awaiting == ["svc-1", "mine"]


@pytest.mark.parametrize(
    ("action", "error"),
    [
        ({"Channel": "x"}, "needs an 'Action'"),
        ({"Action": "QueueAdd", "MemberName": "Eve\r\nAction: Logoff"}, "inject"),
        ({"Action": "Ping", "": "x"}, "empty header name"),
    ],
)
def test_unsafe_actions_are_refused(action: dict[str, str], error: str) -> None:
    ami = AmiProtocol()
    with pytest.raises(AmiProtocolError, match=error):
        ami.send_action(action)
    assert ami.awaiting == []


def test_an_action_id_awaiting_its_answer_is_not_reused() -> None:
    ami = AmiProtocol()
    ami.send_action({"Action": "Ping", "ActionID": "a"})
    with pytest.raises(AmiProtocolError, match="already awaiting"):
        ami.send_action({"Action": "Ping", "ActionID": "a"})
    feed(ami, msg("Response: Success", "ActionID: a"))
    ami.send_action({"Action": "Ping", "ActionID": "a"})  # answered: free again


def test_unknown_action_id_is_passed_on_and_changes_nothing() -> None:
    ami = AmiProtocol()
    mine, _ = ami.send_action({"Action": "CoreShowChannels"})
    items = feed(
        ami,
        msg("Response: Success", "ActionID: stranger", "EventList: start")
        + msg("Event: CoreShowChannel", "ActionID: stranger", "Channel: c")
        + msg("Event: OriginateResponse", "ActionID: stranger", "Response: Success"),
    )
    assert [type(i).__name__ for i in items] == ["AmiResponse", "AmiEvent", "AmiEvent"]
    assert isinstance(items[0], AmiResponse) and items[0].action_id == "stranger"
    assert ami.awaiting == [mine]


def test_list_answer_without_items_and_error_answer() -> None:
    ami = AmiProtocol()
    a, _ = ami.send_action({"Action": "QueueStatus"}, as_list=True)
    b, _ = ami.send_action({"Action": "CoreShowChannels"}, as_list=True)
    items = feed(
        ami,
        msg("Response: Success", f"ActionID: {a}", "Message: Queue status will follow")
        + msg("Event: QueueStatusComplete", f"ActionID: {a}", "ListItems: 0")
        + msg("Response: Error", f"ActionID: {b}", "Message: Permission denied"),
    )
    first, second = items
    assert isinstance(first, AmiResponse) and first.events == () and first.complete is not None
    assert isinstance(second, AmiResponse) and not second.success
    assert second.message == "Permission denied" and ami.awaiting == []


def test_as_list_false_swallows_a_list_that_follows() -> None:
    ami = AmiProtocol()
    a, _ = ami.send_action({"Action": "QueueAdd"}, as_list=False)
    items = feed(
        ami,
        msg("Response: Success", f"ActionID: {a}", "EventList: start")
        + msg("Event: Item", f"ActionID: {a}")
        + msg("Event: Unrelated")
        + msg("Event: ItemsComplete", f"ActionID: {a}", "EventList: Complete"),
    )
    assert [type(i).__name__ for i in items] == ["AmiResponse", "AmiEvent"]
    assert isinstance(items[1], AmiEvent) and items[1].name == "Unrelated"
    assert ami.awaiting == []


def test_plain_answers_are_not_lists() -> None:
    """QueueAdd's "Added interface to queue" is one message (panoramisk took it for a list)."""
    ami = AmiProtocol()
    a, _ = ami.send_action({"Action": "QueueAdd"})
    b, _ = ami.send_action({"Action": "Getvar"})
    items = feed(
        ami,
        msg("Response: Success", f"ActionID: {a}", "Message: Added interface to queue")
        + msg("Response: Success", f"ActionID: {b}", "Variable: HOTLINE_QUEUE", "Value: q1"),
    )
    first, second = items
    assert isinstance(first, AmiResponse) and first.message == "Added interface to queue"
    assert isinstance(second, AmiResponse) and second.get("Value") == "q1"
    assert second.get("Missing") == "" and ami.awaiting == []


def test_command_output_lines() -> None:
    ami = AmiProtocol()
    a, _ = ami.send_action({"Action": "Command", "Command": "core show uptime"})
    (reply,) = feed(
        ami,
        msg(
            "Response: Success",
            f"ActionID: {a}",
            "Message: Command output follows",
            "Output: System uptime: 1 hour",
            "Output: Last reload: 1 hour",
        ),
    )
    assert isinstance(reply, AmiResponse)
    assert reply.output == ["System uptime: 1 hour", "Last reload: 1 hour"]
    assert reply.get("Output") == "Last reload: 1 hour"  # headers: the last value wins


def test_follows_body_with_a_blank_line_inside() -> None:
    ami = AmiProtocol()
    a, _ = ami.send_action({"Action": "Command", "Command": "x"})
    data = (
        f"Response: Follows\r\nPrivilege: Command\r\nActionID: {a}\r\n".encode()
        + b"line one\r\n\r\nline: three\n--END COMMAND--\r\n\r\n"
        + msg("Event: After")
    )
    for cut in range(1, len(data)):
        ami2 = AmiProtocol()
        ami2.send_action({"Action": "Command", "Command": "x"})
        reply, after = feed(ami2, data, cut)
        assert isinstance(reply, AmiResponse) and reply.action_id == a, cut
        assert reply.body == "line one\r\n\r\nline: three\n", cut
        assert isinstance(after, AmiEvent) and after.name == "After", cut


def test_response_iterates_as_panoramisk_lists_did() -> None:
    ami = AmiProtocol()
    a, _ = ami.send_action({"Action": "CoreShowChannels"})
    (reply,) = feed(
        ami,
        msg("Response: Success", f"ActionID: {a}", "EventList: start")
        + msg("Event: CoreShowChannel", f"ActionID: {a}", "Channel: c1")
        + msg("Event: CoreShowChannelsComplete", f"ActionID: {a}", "EventList: Complete"),
    )
    assert isinstance(reply, AmiResponse)
    assert [m.get("Event", m.get("Response")) for m in reply] == [
        "Success",
        "CoreShowChannel",
        "CoreShowChannelsComplete",
    ]


def test_received_at_defaults_to_the_time_of_the_read() -> None:
    ami = AmiProtocol()
    ami.receive_data(msg("Event: A"))
    ev = ami.next_event()
    assert isinstance(ev, AmiEvent) and ev.received_at > 1e9 and ev.at == ev.received_at


def test_oversized_follows_is_skipped_to_its_end() -> None:
    ami = AmiProtocol(max_message_size=1024)
    a, _ = ami.send_action({"Action": "Command", "Command": "big"})
    b, _ = ami.send_action({"Action": "Command", "Command": "small"})
    big = b"".join(b"line %d\n\r\n\r\n" % n for n in range(200))
    data = (
        f"Response: Follows\r\nActionID: {a}\r\n".encode()
        + big
        + b"--END COMMAND--\r\n\r\n"
        + f"Response: Follows\r\nActionID: {b}\r\n".encode()
        + b"ok\n--END COMMAND--\r\n\r\n"
    )
    for read in (len(data), 64, 1):
        ami2 = AmiProtocol(max_message_size=1024)
        ami2.send_action({"Action": "Command", "Command": "big"})
        ami2.send_action({"Action": "Command", "Command": "small"})
        items = feed(ami2, data, *range(read, len(data), read))
        assert [type(i).__name__ for i in items] == ["AmiMalformed", "AmiResponse"], read
        assert isinstance(items[1], AmiResponse) and items[1].action_id == b, read
        assert items[1].body == "ok\n"
        assert ami2.awaiting == [a]  # its answer never came whole: the caller times out
