"""Human lines about the emulator's saved state, for `local start/stop/status/reset` (the
JSON forms carry the same facts as fields)."""

from __future__ import annotations

from typing import Any


def size(n: int) -> str:
    if n < 1000:
        return f"{n} B"
    return f"{n / 1e6:.1f} MB" if n >= 100_000 else f"{n / 1e3:.0f} kB"


def stored(info: dict[str, Any]) -> list[str]:
    """Where the state is kept and its size."""
    return [f"  state: {info['state_dir']} ({size(int(info['state_bytes']))} on disk)"]


def started(info: dict[str, Any]) -> list[str]:
    """What the emulator found at start: restored, set aside, or nothing."""
    last = info.get("last_start") or {}
    if last.get("reason"):
        return [
            f"  The saved state could not be loaded: {last['reason']}.",
            f"  It was set aside in {last['set_aside']}; the emulator started empty.",
        ]
    if not last.get("restored"):
        return ["  No saved state: the emulator started empty."]
    lines = [
        f"  Restored {last['messages']} queued message(s) and {last['executions']} "
        f"execution(s) in {last['seconds']:.2f} s."
    ]
    if last.get("restarted"):
        lines.append(
            f"  {last['restarted']} execution(s) that had not finished were restarted "
            "from their input."
        )
    return lines


def stopped(saved: dict[str, Any] | None, timeout: float) -> list[str]:
    if saved is None:
        return [
            "  The emulator did not confirm a snapshot: the next start recovers from its "
            "journal (accepted orders are kept)."
        ]
    lines = [
        f"  Drained in {saved['drain_seconds']:.2f} s (waited up to {timeout:g} s), saved "
        f"{size(int(saved['bytes']))} in {saved['save_seconds']:.2f} s."
    ]
    if saved.get("unfinished"):
        lines.append(
            f"  {saved['unfinished']} execution(s) had not finished: the next start "
            "restarts them from their input."
        )
    return lines
