"""`FramePipe` carries whole frames over a real pipe, as multiprocessing's Connection did (ADR 0039)."""

from __future__ import annotations

import os
import threading

import pytest

from partner_ingest.adapters_out import frames as framing
from partner_ingest.adapters_out.frames import FramePipe


def _pair() -> tuple[FramePipe, FramePipe]:
    read_end, write_end = os.pipe()
    return FramePipe(read_end), FramePipe(write_end)


def test_frames_of_every_size_arrive_whole_and_in_order() -> None:
    reader, writer = _pair()
    frames = [b"", b"x", b"a" * 16 * 1024, b"b" * (16 * 1024 + 1), os.urandom(3 << 20)]

    # The largest frame is past any pipe's room: the writer blocks until the reader takes it.
    def send() -> None:
        for frame in frames:
            writer.send_bytes(frame)

    sender = threading.Thread(target=send)
    sender.start()
    assert [reader.recv_bytes() for _ in frames] == frames
    sender.join()
    writer.close()
    with pytest.raises(EOFError):
        reader.recv_bytes()


def test_an_end_in_the_middle_of_a_frame_is_an_end_of_file() -> None:
    reader, writer = _pair()
    os.write(writer.fileno(), (10).to_bytes(8, "big") + b"abc")
    writer.close()
    with pytest.raises(EOFError):
        reader.recv_bytes()


def test_poll_says_whether_a_frame_waits_and_a_closed_end_refuses_use() -> None:
    reader, writer = _pair()
    assert not reader.poll(0)
    writer.send_bytes(b"hello")
    assert reader.poll(1)
    reader.close()
    reader.close()  # closing twice is harmless
    with pytest.raises(OSError, match="closed"):
        reader.recv_bytes()
    with pytest.raises(BrokenPipeError):  # nobody reads any more
        writer.send_bytes(b"lost")


def test_a_frame_made_ahead_and_written_to_a_non_blocking_end_arrives_whole() -> None:
    # What call_process.py does: a frame made with its call number in front, written to a
    # non-blocking end that fills (3 MiB is past any pipe's room) while the reader drains it.
    read_end, write_end = os.pipe()
    reader = FramePipe(read_end)
    os.set_blocking(write_end, False)
    payload = os.urandom(3 << 20)
    writer = threading.Thread(
        target=framing.write_all, args=(write_end, framing.frame(payload, b"\x00" * 7 + b"\x05"))
    )
    writer.start()
    data = reader.recv_bytes()
    writer.join()
    os.close(write_end)
    assert data[:8] == b"\x00" * 7 + b"\x05" and data[8:] == payload
