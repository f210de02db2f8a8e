#!/bin/sh
# The spec is valid YNL "genetlink": it validates against the schema
# Documentation/netlink/genetlink.yaml of Debian's linux-source-6.12, and
# every attribute, operation and definition carries a doc.
set -eu
src=${BLKSNAP_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
ynl=$("$src/netlink-spec/ynl-tree")

/usr/bin/python3 - "$ynl/Documentation/netlink/genetlink.yaml" \
	"$src/netlink-spec/blksnap.yaml" <<'PY'
import sys, yaml, jsonschema
schema = yaml.safe_load(open(sys.argv[1]))
spec = yaml.safe_load(open(sys.argv[2]))
jsonschema.validate(spec, schema)
assert spec['protocol'] == 'genetlink', spec['protocol']
missing = []
for d in spec.get('definitions', []):
    if not d.get('doc'):
        missing.append('definition ' + d['name'])
for s in spec['attribute-sets']:
    for a in s['attributes']:
        if not a.get('doc'):
            missing.append('attribute %s/%s' % (s['name'], a['name']))
for o in spec['operations']['list']:
    if not o.get('doc'):
        missing.append('operation ' + o['name'])
if missing:
    sys.exit('no doc: ' + ', '.join(missing))
print('spec valid: %d attribute sets, %d operations' %
      (len(spec['attribute-sets']), len(spec['operations']['list'])))
PY
