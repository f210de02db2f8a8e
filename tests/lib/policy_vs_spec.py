#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""The netlink policies of the live blksnap family equal what the spec says.

Asks the kernel's generic netlink controller, through the YNL library and
the kernel's nlctrl.yaml, for the family (CTRL_CMD_GETFAMILY) and for its
per-op policies (CTRL_CMD_GETPOLICY), and compares them with the spec:

  - the family version, the op ids and each op's flags (admin-perm,
    do / dump capability, a policy where there are request attributes),
    and the multicast groups;
  - for every op and mode (do, dump): the set of attributes the kernel
    accepts equals the spec's request attributes (none when the spec lists
    none), each with the policy type the spec's type maps to and the value
    and length limits of the spec's checks, nested policies included.

Prints a table per op and, on mismatch, a list of the differences; exits 1
if there is any.  --save FILE keeps the kernel's answers as JSON, --load
FILE compares a saved answer instead of asking the kernel (no module needed).

usage: policy_vs_spec.py --ynl DIR --spec SPEC [--nlctrl NLCTRL_YAML]
                         [--save FILE | --load FILE]
"""
import argparse
import json
import os
import sys

# Spec type -> policy type the kernel reports (NL_ATTR_TYPE_*), the way the
# kernel's YNL generator writes policies: strings are NLA_NUL_STRING.
POLICY_TYPE = {
    'u8': 'u8', 'u16': 'u16', 'u32': 'u32', 'u64': 'u64',
    's8': 's8', 's16': 's16', 's32': 's32', 's64': 's64',
    'string': 'nul-string', 'binary': 'binary', 'nest': 'nested',
    'flag': 'flag',
}
UNSIGNED_MAX = {'u8': 2**8 - 1, 'u16': 2**16 - 1, 'u32': 2**32 - 1,
                'u64': 2**64 - 1}
SIGNED_RANGE = {t: (-2**(b - 1), 2**(b - 1) - 1)
                for t, b in (('s8', 8), ('s16', 16), ('s32', 32), ('s64', 64))}
# Checks this test knows how to compare; any other check is a failure, so
# that a new kind of check in the spec cannot pass unverified.
KNOWN_CHECKS = {'min', 'max', 'min-len', 'max-len', 'exact-len'}


class Spec:
    """What the spec says, in the terms of a policy dump."""

    def __init__(self, spec_family):
        self.family = spec_family
        self.problems = []

    def limit(self, value):
        """A check's value: a number or the name of a const definition."""
        if isinstance(value, int):
            return value
        const = self.family.consts.get(value)
        if not isinstance(const, dict) or const.get('type') != 'const':
            raise ValueError(f'check value {value!r} is neither a number '
                             'nor a const definition')
        return const['value']

    def attr_policy(self, attr):
        """The policy entry the spec implies for one attribute."""
        spec_type = attr.type
        checks = attr.yaml.get('checks', {})
        unknown = set(checks) - KNOWN_CHECKS
        if unknown:
            self.problems.append(f'attribute {attr.name}: checks {sorted(unknown)} '
                                 'are not compared by this test')
        if spec_type not in POLICY_TYPE:
            self.problems.append(f'attribute {attr.name}: type {spec_type} is '
                                 'not compared by this test')
            return {'type': spec_type}
        policy = {'type': POLICY_TYPE[spec_type]}
        if spec_type in UNSIGNED_MAX:
            policy['min-value-u'] = self.limit(checks.get('min', 0))
            policy['max-value-u'] = self.limit(checks.get('max', UNSIGNED_MAX[spec_type]))
        elif spec_type in SIGNED_RANGE:
            lo, hi = SIGNED_RANGE[spec_type]
            policy['min-value-s'] = self.limit(checks.get('min', lo))
            policy['max-value-s'] = self.limit(checks.get('max', hi))
        elif spec_type in ('string', 'binary'):
            if 'exact-len' in checks:
                policy['min-length'] = policy['max-length'] = self.limit(checks['exact-len'])
            if 'min-len' in checks:
                policy['min-length'] = self.limit(checks['min-len'])
            if 'max-len' in checks:
                policy['max-length'] = self.limit(checks['max-len'])
        elif spec_type == 'nest':
            policy['nested'] = attr.yaml['nested-attributes']
        return policy

    def set_policy(self, set_name, names=None):
        """{attr value: (name, policy)} of the named attributes of a set,
        or of all of its attributes but padding."""
        attr_set = self.family.attr_sets[set_name]
        if names is None:
            names = [n for n, a in attr_set.items() if a.type not in ('pad', 'unused')]
        return {attr_set[n].value: (n, self.attr_policy(attr_set[n])) for n in names}


def describe(policy):
    """One policy entry as text: 'u32 0..4095', 'nul-string len<=4095'."""
    if policy is None:
        return '-'
    parts = [policy.get('type', '?')]
    for lo, hi in (('min-value-u', 'max-value-u'), ('min-value-s', 'max-value-s')):
        if lo in policy or hi in policy:
            parts.append(f"{policy.get(lo, '?')}..{policy.get(hi, '?')}")
    if 'min-length' in policy and policy.get('min-length') == policy.get('max-length'):
        parts.append(f"len=={policy['min-length']}")
    else:
        if 'min-length' in policy:
            parts.append(f"len>={policy['min-length']}")
        if 'max-length' in policy:
            parts.append(f"len<={policy['max-length']}")
    if 'nested' in policy:
        parts.append(f"({policy['nested']})")
    for key in sorted(set(policy) - {'type', 'nested', 'min-value-u', 'max-value-u',
                                     'min-value-s', 'max-value-s', 'min-length',
                                     'max-length'}):
        parts.append(f'{key}={policy[key]}')
    return ' '.join(str(p) for p in parts)


class Comparison:
    def __init__(self, spec, kernel):
        self.spec = spec
        self.kernel = kernel
        self.diffs = []
        self.lines = []

    def differ(self, where, what):
        self.diffs.append(f'{where}: {what}')

    def compare_policy(self, where, set_name, expected, policy_idx, depth=0):
        """Compare one kernel policy (by index, None for no policy) with the
        expected {value: (name, policy)}; recurse into nested policies."""
        actual = self.kernel['policies'].get(str(policy_idx), {}) if policy_idx is not None else {}
        attr_set = self.spec.family.attr_sets[set_name]
        indent = '    ' * (depth + 1)
        if not expected and not actual:
            self.lines.append(f'{indent}accepts no attributes'
                              + (' (no policy)' if policy_idx is None else ' (empty policy)'))
        for value in sorted(set(expected) | {int(k) for k in actual}):
            exp_name, exp = expected.get(value, (None, None))
            act = actual.get(str(value))
            name = exp_name or (attr_set.attrs_by_val[value].name
                                if value in attr_set.attrs_by_val else f'attr#{value}')
            act_cmp = None
            if act is not None:
                act_cmp = {k: v for k, v in act.items()
                           if k not in ('policy-idx', 'policy-maxtype', 'pad')}
                if act.get('type') == 'nested' and exp is not None and 'nested' in exp:
                    act_cmp['nested'] = exp['nested']
            ok = exp == act_cmp
            self.lines.append(f"{indent}{'ok  ' if ok else 'FAIL'} {name:<15} "
                              f"spec: {describe(exp):<30} kernel: {describe(act_cmp)}")
            if exp is None:
                self.differ(f'{where}', f'kernel accepts {name} ({describe(act_cmp)}), '
                            'the spec does not list it')
            elif act is None:
                self.differ(f'{where}', f'spec lists {name} ({describe(exp)}), '
                            'the kernel policy does not accept it')
            elif not ok:
                self.differ(f'{where}.{name}', f'spec says {describe(exp)}, '
                            f'kernel has {describe(act_cmp)}')
            if exp is not None and act is not None and 'nested' in exp \
                    and act.get('type') == 'nested':
                if 'policy-idx' not in act:
                    self.differ(f'{where}.{name}', 'nested without a policy: its '
                                'attributes are not validated')
                    continue
                self.compare_policy(f'{where}.{name}', exp['nested'],
                                    self.spec.set_policy(exp['nested']),
                                    act['policy-idx'], depth + 1)

    def compare_family(self):
        fam = self.kernel['family']
        spec_yaml = self.spec.family.yaml
        want_version = spec_yaml.get('version', 1)
        self.lines.append(f"family {fam.get('family-name')} id {fam.get('family-id')} "
                          f"version {fam.get('version')}")
        if want_version != 1:
            self.differ('family', f'spec version is {want_version}, expected 1')
        if fam.get('version') != want_version:
            self.differ('family', f"version is {fam.get('version')}, spec says {want_version}")

        want_groups = set(self.spec.family.mcast_groups)
        have_groups = set(self.kernel['mcast-groups'])
        self.lines.append(f"multicast groups: {self.kernel['mcast-groups']}")
        if 'events' not in have_groups:
            self.differ('mcast-groups', 'no group "events"')
        if want_groups != have_groups:
            self.differ('mcast-groups', f'spec has {sorted(want_groups)}, '
                        f'kernel has {sorted(have_groups)}')

        kernel_ops = {int(k): set(v) for k, v in self.kernel['ops'].items()}
        spec_ops = {op.req_value: op for op in self.spec.family.ops.values()}
        for op_id in sorted(set(kernel_ops) - set(spec_ops)):
            ntf = self.spec.family.req_by_value.get(op_id)
            what = f' (the id of notification {ntf.name})' if ntf else ''
            self.differ(f'op id {op_id}', f'the kernel has an op the spec does not{what}')
        for op_id, op in sorted(spec_ops.items()):
            if op_id not in kernel_ops:
                self.differ(f'op {op.name}', f'the kernel has no op with id {op_id}')
                continue
            want = set(op.yaml.get('flags', []))
            want |= {f'cmd-cap-{mode}' for mode in ('do', 'dump') if mode in op.yaml}
            has_request = any(op.yaml[m].get('request', {}).get('attributes')
                              for m in ('do', 'dump') if m in op.yaml)
            have = kernel_ops[op_id]
            if has_request:
                want.add('cmd-cap-haspol')
            else:
                # An empty policy is allowed: the policy check shows it
                # accepts nothing.
                have = have - {'cmd-cap-haspol'}
            ok = want == have
            self.lines.append(f"op {op.name} id {op_id}: flags {sorted(kernel_ops[op_id])}"
                              + ('' if ok else f' FAIL, spec wants {sorted(want)}'))
            if not ok:
                self.differ(f'op {op.name}', f'flags {sorted(have)}, spec wants '
                            f'{sorted(want)}')

    def compare_ops(self):
        op_policy = self.kernel['op-policy']
        for op in self.spec.family.ops.values():
            pol = op_policy.get(str(op.req_value), {})
            for mode in ('do', 'dump'):
                where = f'op {op.name} {mode}'
                if mode not in op.yaml:
                    if mode in pol:
                        self.differ(where, f'the kernel has a {mode} policy for an op '
                                    f'the spec gives no {mode}')
                    continue
                names = op.yaml[mode].get('request', {}).get('attributes', [])
                expected = self.spec.set_policy(op.attr_set.name, names)
                self.lines.append(f'{where} (policy {pol.get(mode, "none")}):')
                self.compare_policy(where, op.attr_set.name, expected, pol.get(mode))

    def run(self):
        self.compare_family()
        self.compare_ops()
        for problem in self.spec.problems:
            self.differ('spec', problem)
        return self.diffs


def plain(value):
    """JSON-able copy of a YNL answer: sets as sorted lists, no raw bytes."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items() if not isinstance(v, bytes)}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, set):
        return sorted(value)
    return value


def ask_kernel(ynl_family_class, nlctrl_spec, name):
    """The family's description and policies, from the generic netlink
    controller: {'family', 'ops', 'mcast-groups', 'op-policy', 'policies'}."""
    ctrl = ynl_family_class(nlctrl_spec, schema='', process_unknown=True)
    fam = ctrl.do('getfamily', {'family-name': name})
    answer = {
        'family': {k: fam.get(k) for k in ('family-name', 'family-id', 'version',
                                           'hdrsize', 'maxattr')},
        # indexed arrays decode to [{index: {attrs}}]
        'ops': {},
        'mcast-groups': {},
        'op-policy': {},
        'policies': {},
    }
    for entry in fam.get('ops', []):
        for attrs in entry.values():
            answer['ops'][attrs['id']] = attrs.get('flags', set())
    for entry in fam.get('mcast-groups', []):
        for attrs in entry.values():
            answer['mcast-groups'][attrs['name']] = attrs['id']
    for msg in ctrl.dump('getpolicy', {'family-name': name}):
        if 'op-policy' in msg:
            pol = dict(msg['op-policy'])
            answer['op-policy'][pol.pop('op-id')] = pol
        if 'policy' in msg:
            pol = dict(msg['policy'])
            idx, attr = pol.pop('policy-id'), pol.pop('attr-id')
            pol.pop('pad', None)
            answer['policies'].setdefault(idx, {})[attr] = pol
    return plain(answer)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--ynl', required=True, help='tools/net/ynl of a kernel tree')
    parser.add_argument('--spec', required=True)
    parser.add_argument('--nlctrl', help='nlctrl.yaml (default: beside --ynl, in '
                        'Documentation/netlink/specs)')
    group = parser.add_mutually_exclusive_group()
    group.add_argument('--save', help='also write the kernel\'s answers to this file')
    group.add_argument('--load', help='compare these saved answers, do not ask the kernel')
    args = parser.parse_args()

    sys.path.insert(0, args.ynl)
    from lib import SpecFamily, YnlFamily  # pylint: disable=import-outside-toplevel

    spec = Spec(SpecFamily(args.spec, schema_path=''))
    if args.load:
        with open(args.load, encoding='utf-8') as f:
            kernel = json.load(f)
    else:
        nlctrl = args.nlctrl or os.path.join(
            args.ynl, '../../../Documentation/netlink/specs/nlctrl.yaml')
        kernel = ask_kernel(YnlFamily, nlctrl, spec.family.name)
        if args.save:
            with open(args.save, 'w', encoding='utf-8') as f:
                json.dump(kernel, f, indent=1, sort_keys=True)

    comparison = Comparison(spec, kernel)
    diffs = comparison.run()
    print('\n'.join(comparison.lines))
    if diffs:
        print(f'\n{len(diffs)} difference(s) between {args.spec} and the kernel:')
        for diff in diffs:
            print(f'  - {diff}')
        return 1
    print(f'\nthe kernel\'s family and policies match {args.spec}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
