"""Checks that `sam build` left an arm64 Linux `bootstrap` for every function of the template.

usage: python check_bootstraps.py TEMPLATE BUILD_DIR
"""
import re
import sys
from pathlib import Path

AARCH64 = 183  # ELF e_machine


def functions(template: str) -> list[str]:
    return re.findall(r"^  (\w+Function):\n    Type: AWS::Serverless::Function", Path(template).read_text(), re.M)


def main() -> int:
    template, build = sys.argv[1], Path(sys.argv[2])
    names = functions(template)
    problems = []
    for name in names:
        bootstrap = build / name / "bootstrap"
        if not bootstrap.is_file():
            problems.append(f"{name}: no bootstrap")
            continue
        head = bootstrap.read_bytes()[:20]
        if head[:4] != b"\x7fELF" or int.from_bytes(head[18:20], "little") != AARCH64:
            problems.append(f"{name}: bootstrap is not an aarch64 ELF binary")
    for p in problems:
        print(p)
    print(f"bootstraps: {len(names) - len(problems)} of {len(names)} functions built for aarch64")
    return 1 if problems or not names else 0


if __name__ == "__main__":
    sys.exit(main())
