#!/usr/bin/python3
"""Sum up a function_graph trace (funcgraph-abstime): calls, mean, median
and max duration and total time per function, largest total first.

Usage: trace-durations.py TRACE
"""
import collections
import re
import sys

LINE = re.compile(r'\s*[\d.]+ \|\s+\d+\)\s+[!+#*@$]?\s*([\d.]+) us\s+\|\s+(.*)$')


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    durations = collections.defaultdict(list)
    with open(sys.argv[1], encoding='utf-8', errors='replace') as trace:
        for line in trace:
            m = LINE.match(line)
            if not m:
                continue
            # a module's functions are named "function [module]()"
            rest = re.sub(r' \[\w+\]\(', '(', m.group(2))
            if rest.startswith('}'):
                name = re.search(r'/\* (\S+)', rest)
            else:
                name = re.match(r'(\S+)\(\);', rest)
            if name:
                durations[name.group(1)].append(float(m.group(1)))
    for name, d in sorted(durations.items(), key=lambda x: -sum(x[1])):
        d.sort()
        print(f'{name:32} {len(d):7} calls  mean {sum(d) / len(d):9.1f} us'
              f'  median {d[len(d) // 2]:9.1f}  max {d[-1]:9.1f}'
              f'  total {sum(d) / 1000:8.1f} ms')


if __name__ == '__main__':
    main()
