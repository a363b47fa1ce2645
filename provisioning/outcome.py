"""What provisioning did, in lines an installer reads; `problems` decide the exit code."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Outcome:
    device_id: str = ""
    lines: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    page: str = ""  # where the web page is, as the installer reads it

    def ok(self, text: str) -> None:
        self.lines.append(f"  ok    {text}")

    def warn(self, text: str) -> None:
        self.lines.append(f"  WARN  {text}")

    def fail(self, text: str) -> None:
        self.lines.append(f"  FAIL  {text}")
        self.problems.append(text)
