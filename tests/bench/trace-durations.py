#!/usr/bin/python3
"""Sum up a function_graph trace (funcgraph-abstime): calls, mean, median
and max duration and total time per function, largest total first.

Usage: trace-durations.py TRACE
"""
import collections
import re
import sys

# "TIME | CPU) [flag] [DURATION us] | TEXT"
LINE = re.compile(r'\s*[\d.]+ \|\s+(\d+)\)\s+(?:[!+#*@$]\s+)?(?:([\d.]+) us\s+)?\|\s+(.*)$')


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    durations = collections.defaultdict(list)
    open_calls = collections.defaultdict(list)  # per CPU: functions entered
    with open(sys.argv[1], encoding='utf-8', errors='replace') as trace:
        for line in trace:
            m = LINE.match(line)
            if not m:
                continue
            cpu, took = m.group(1), m.group(2)
            # a module's functions are named "function [module]()"
            rest = re.sub(r' \[\w+\]\(', '(', m.group(3))
            name = None
            if rest.startswith('}'):
                # the function closed is named in a comment with the
                # funcgraph-tail option, else it is the last one entered
                tail = re.search(r'/\* (\S+)', rest)
                stack = open_calls[cpu]
                entered = stack.pop() if stack else None
                name = tail.group(1) if tail else entered
            elif rest.endswith('{'):
                entered = re.match(r'(\S+)\(\)', rest)
                if entered:
                    open_calls[cpu].append(entered.group(1))
                continue
            else:
                leaf = re.match(r'(\S+)\(\);', rest)
                name = leaf.group(1) if leaf else None
            if name and took:
                durations[name].append(float(took))
    for name, d in sorted(durations.items(), key=lambda x: -sum(x[1])):
        d.sort()
        print(f'{name:32} {len(d):7} calls  mean {sum(d) / len(d):9.1f} us'
              f'  median {d[len(d) // 2]:9.1f}  max {d[-1]:9.1f}'
              f'  total {sum(d) / 1000:8.1f} ms')


if __name__ == '__main__':
    main()
