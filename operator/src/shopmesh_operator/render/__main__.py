"""`python -m shopmesh_operator.render FILE...`: print, as one YAML stream, every
child the operator would render for the Microservices in FILE (like `helm
template`: no cluster needed). Used by ci/validate/validate.sh and by people who
want to see what a spec turns into before applying it."""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

from shopmesh_operator import constants as c
from shopmesh_operator.models import Microservice
from shopmesh_operator.render import build_children


def main(paths: list[str]) -> int:
    children = []
    for path in paths:
        for doc in yaml.safe_load_all(Path(path).read_text()):
            if not doc or doc.get("kind") != c.KIND:
                continue
            meta = doc.setdefault("metadata", {})
            meta.setdefault("namespace", "default")
            meta.setdefault("uid", "00000000-0000-0000-0000-000000000000")
            children.extend(build_children(Microservice.from_body(doc)))
    yaml.safe_dump_all(children, sys.stdout, sort_keys=False)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
