#!/usr/bin/env python3
# Prints the include graph of server/ by module (server/X.c and include/leadloop/X.h
# together), then its circles: the groups of modules that reach each other (strongly
# connected components) and the pairs that include each other directly.
# Usage: scripts/include-graph.py [repository root, default .]
import os
import re
import sys

root = sys.argv[1] if len(sys.argv) > 1 else "."
include = re.compile(r'#include\s+"leadloop/([a-z_0-9]+)\.h"')
graph = {}
for folder, ext in (("server", ".c"), ("include/leadloop", ".h")):
    for name in sorted(os.listdir(os.path.join(root, folder))):
        if not name.endswith(ext):
            continue
        module = name[: -len(ext)]
        deps = graph.setdefault(module, set())
        with open(os.path.join(root, folder, name)) as f:
            for line in f:
                m = include.search(line)
                if m and m.group(1) != module:
                    deps.add(m.group(1))

for module in sorted(graph):
    print(f"{module:18} -> {' '.join(sorted(graph[module]))}")

# Tarjan's strongly connected components; a component of more than one module is a circle.
index, low, stack, on_stack, circles, counter = {}, {}, [], set(), [], [0]
sys.setrecursionlimit(10000)


def visit(v):
    index[v] = low[v] = counter[0]
    counter[0] += 1
    stack.append(v)
    on_stack.add(v)
    for w in graph.get(v, ()):
        if w not in index:
            visit(w)
            low[v] = min(low[v], low[w])
        elif w in on_stack:
            low[v] = min(low[v], index[w])
    if low[v] == index[v]:
        component = []
        while True:
            w = stack.pop()
            on_stack.discard(w)
            component.append(w)
            if w == v:
                break
        if len(component) > 1:
            circles.append(sorted(component))


for v in sorted(graph):
    if v not in index:
        visit(v)
print("circles:", "; ".join(" ".join(c) for c in circles) if circles else "none")
pairs = sorted({tuple(sorted((a, b))) for a in graph for b in graph[a] if a in graph.get(b, ())})
print("pairs that include each other:", ", ".join(f"{a}<->{b}" for a, b in pairs) or "none")
