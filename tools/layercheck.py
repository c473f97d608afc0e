#!/usr/bin/env python3
"""tools/layercheck.py - check every #include of the tree against its layers.

Usage: tools/layercheck.py [TOP]     (TOP defaults to the folder above tools/)

Reads the allowed edges from TOP/tools/layers.txt (its header says the
format), then every .c/.h file under TOP outside the "outside" folders and
dot-folders, and prints one line per violation:

    core/conf/conf.c:21: includes lua/lstate.h (layer conf may not use lua)

An include is resolved relative to TOP first (the compiler's -I.), then,
if quoted, relative to the including file's folder. Violations: a file in a folder no layer claims; an
include of a file in a layer not listed as usable (or in no layer at all);
an "only" header (e.g. <lua.h>) outside the places allowed to include it; a
driver including another driver's header; a quoted include not in the tree.
Exit status: 0 clean, 1 violations, 2 a bad table or usage.
Python 3 standard library only.
"""
import os
import re
import sys

INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')


class TableError(Exception):
    pass


def read_table(path):
    """Parse layers.txt into (folder->layer, layer->uses, outside, only, drivers)."""
    folder_layer, uses, outside, only, drivers = {}, {}, [], [], []
    with open(path, encoding="utf-8") as f:
        for no, raw in enumerate(f, 1):
            words = raw.split("#", 1)[0].split()
            if not words:
                continue
            where = "%s:%d" % (path, no)
            left, colon, right = " ".join(words).partition(":")
            left, right = left.split(), right.split()
            key = left[0]
            if key == "outside" and not colon:
                outside += [p.strip("/") for p in left[1:]]
            elif key == "only" and colon and len(left) > 1:
                only.append((set(left[1:]), [p.strip("/") for p in right]))
            elif key == "drivers" and colon and len(left) == 2:
                drivers.append((left[1].strip("/"), set(right)))
            elif colon and len(left) > 1 and key not in ("outside", "only", "drivers"):
                if key in uses:
                    raise TableError("%s: layer %s named twice" % (where, key))
                uses[key] = set(right)
                for d in left[1:]:
                    d = d.strip("/")
                    if d in folder_layer:
                        raise TableError("%s: folder %s is in two layers" % (where, d))
                    folder_layer[d] = key
            else:
                raise TableError("%s: cannot read %r" % (where, raw.strip()))
    for folder, _ in drivers:
        if folder not in folder_layer:
            raise TableError("%s: drivers folder %s is in no layer" % (path, folder))
    for layer, used in uses.items():
        for u in sorted(used - set(uses)):
            raise TableError("%s: layer %s uses unknown layer %s" % (path, layer, u))
    return folder_layer, uses, outside, only, drivers


def source_files(top, outside):
    """Every .c/.h file under top (relative paths), skipping outside folders."""
    for root, dirs, files in os.walk(top):
        rel = os.path.relpath(root, top)
        rel = "" if rel == "." else rel
        dirs[:] = sorted(d for d in dirs if not d.startswith(".")
                         and os.path.join(rel, d) not in outside)
        for fn in sorted(files):
            if fn.endswith((".c", ".h")):
                yield os.path.join(rel, fn)


def resolve(top, src, name, quote):
    """The tree path an include names: from top first (the -I.), then, for
    a quoted one, from src's folder; None if it is not in the tree."""
    for base in ("", os.path.dirname(src))[:1 if quote == "<" else 2]:
        cand = os.path.normpath(os.path.join(base, name))
        if not cand.startswith("..") and os.path.isfile(os.path.join(top, cand)):
            return cand
    return None


def placed(path, places):
    """Whether path is one of places (a file) or sits directly in one (a folder)."""
    return path in places or os.path.dirname(path) in places


def check_file(top, src, table, out):
    folder_layer, uses, _, only, drivers = table
    layer = folder_layer[os.path.dirname(src)]
    with open(os.path.join(top, src), encoding="utf-8", errors="replace") as f:
        lines = f.read().split("\n")
    for no, line in enumerate(lines, 1):
        m = INCLUDE.match(line)
        if not m:
            continue
        quote, name = m.groups()
        at = "%s:%d: includes " % (src, no)
        target = resolve(top, src, name, quote)
        if target is None:
            shown = "<%s>" % name if quote == "<" else '"%s"' % name
            rules = [p for hs, p in only if os.path.basename(name) in hs]
            if rules and not placed(src, rules[0]):
                out.append(at + "%s (only %s may)" % (shown, ", ".join(rules[0])))
            elif not rules and quote == '"':
                out.append(at + "%s (not found in the tree)" % shown)
            continue
        tlayer = folder_layer.get(os.path.dirname(target))
        if tlayer is None:
            out.append(at + "%s (layer %s may not use %s, which is in no layer)"
                       % (target, layer, os.path.dirname(target) or "the top"))
        elif tlayer != layer and tlayer not in uses[layer]:
            out.append(at + "%s (layer %s may not use %s)" % (target, layer, tlayer))
        for folder, names in drivers:
            tstem = os.path.splitext(os.path.basename(target))[0]
            sstem = os.path.splitext(os.path.basename(src))[0]
            if (os.path.dirname(src) == folder and os.path.dirname(target) == folder
                    and tstem in names and tstem != sstem):
                out.append(at + "%s (drivers in %s do not include each other)"
                           % (target, folder))


def main(argv):
    if len(argv) > 2 or (len(argv) == 2 and argv[1].startswith("-")):
        print("usage: tools/layercheck.py [TOP]", file=sys.stderr)
        return 2
    top = argv[1] if len(argv) == 2 else \
        os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    path = os.path.join(top, "tools", "layers.txt")
    try:
        table = read_table(path)
    except (OSError, TableError) as e:
        print("layercheck: %s" % e, file=sys.stderr)
        return 2
    out = []
    for src in source_files(top, table[2]):
        if os.path.dirname(src) not in table[0]:
            out.append("%s: in folder %s, which no layer of tools/layers.txt claims"
                       % (src, os.path.dirname(src) or "(the top)"))
        else:
            check_file(top, src, table, out)
    for line in out:
        print(line)
    return 1 if out else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
