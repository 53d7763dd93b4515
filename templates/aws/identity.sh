# --- aws/identity.sh: a tiny stdlib-python client for IMDSv2, Secrets Manager and EC2 (Ubuntu has no AWS CLI) ---
# Credentials come from the instance role through IMDSv2 at every call and never reach argv, env or disk.
mkdir -p /usr/local/lib/skypool
cat >/usr/local/lib/skypool/aws.py <<'PY'
import datetime, hashlib, hmac, json, os, sys, urllib.error, urllib.parse, urllib.request
IMDS = 'http://169.254.169.254/latest/'
TOKEN_ID = 'skypool-swarm-init-0000000000000001'  # fixed: only the first manager to publish wins

def meta(path):
    tok = urllib.request.urlopen(urllib.request.Request(IMDS + 'api/token', method='PUT', headers={'X-aws-ec2-metadata-token-ttl-seconds': '60'}), timeout=2).read().decode()
    return urllib.request.urlopen(urllib.request.Request(IMDS + path, headers={'X-aws-ec2-metadata-token': tok}), timeout=2).read().decode()

def call(service, body, ctype, target=None):
    region = meta('meta-data/placement/region')
    role = meta('meta-data/iam/security-credentials/').split()[0]
    c = json.loads(meta('meta-data/iam/security-credentials/' + role))
    host = '%s.%s.amazonaws.com' % (service, region)
    amz = datetime.datetime.now(datetime.timezone.utc).strftime('%Y%m%dT%H%M%SZ')
    h = {'content-type': ctype, 'host': host, 'x-amz-date': amz, 'x-amz-security-token': c['Token']}
    if target: h['x-amz-target'] = target
    names = ';'.join(sorted(h))
    canon = '\n'.join(['POST', '/', '', ''.join('%s:%s\n' % (k, h[k]) for k in sorted(h)), names, hashlib.sha256(body).hexdigest()])
    scope = '%s/%s/%s/aws4_request' % (amz[:8], region, service)
    key = ('AWS4' + c['SecretAccessKey']).encode()
    for part in (amz[:8], region, service, 'aws4_request'):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    sts = '\n'.join(['AWS4-HMAC-SHA256', amz, scope, hashlib.sha256(canon.encode()).hexdigest()])
    h['authorization'] = 'AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s' % (
        c['AccessKeyId'], scope, names, hmac.new(key, sts.encode(), hashlib.sha256).hexdigest())
    return urllib.request.urlopen(urllib.request.Request('https://' + host + '/', data=body, method='POST', headers=h), timeout=15).read()

def sm(action, req):
    return json.loads(call('secretsmanager', json.dumps(req).encode(), 'application/x-amz-json-1.1', 'secretsmanager.' + action))

def secret(sid):
    return json.loads(sm('GetSecretValue', {'SecretId': sid}).get('SecretString') or '{}')

def main(cmd, args):
    if cmd == 'identity':
        print(meta('meta-data/instance-id'), meta('meta-data/local-ipv4'))
    elif cmd == 'field':  # SECRET NAME: prints one field, exit 3 while it is not there yet
        v = secret(args[0]).get(args[1])
        if not v: return 3
        print(v)
    elif cmd == 'files':  # SECRET DIR NAME:FILE...: writes fields to 0600 files, exit 3 while any is missing
        s = secret(args[0])
        if not all(s.get(p.split(':')[0]) for p in args[2:]): return 3
        for p in args[2:]:
            name, f = p.split(':')
            fd = os.open(os.path.join(args[1], f), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, 'w') as out: out.write(s[name].strip() + '\n')
    elif cmd == 'publish':  # SECRET ADDR: tokens from env; exit 4 when another manager published first
        s = secret(args[0])
        s.update(managerAddr=args[1], workerToken=os.environ['SKYPOOL_WORKER_TOKEN'], managerToken=os.environ['SKYPOOL_MANAGER_TOKEN'])
        try:
            sm('PutSecretValue', {'SecretId': args[0], 'SecretString': json.dumps(s), 'ClientRequestToken': TOKEN_ID})
        except urllib.error.HTTPError as e:
            body = e.read()
            if b'ResourceExistsException' in body: return 4
            sys.stderr.write('aws.py publish: HTTP %s %s\n' % (e.code, body[:300].decode(errors='replace')))
            return 1
    elif cmd == 'name':  # NAME: tags this instance Name=NAME, as the SDK names the instances it launches
        q = {'Action': 'CreateTags', 'Version': '2016-11-15', 'ResourceId.1': meta('meta-data/instance-id'), 'Tag.1.Key': 'Name', 'Tag.1.Value': args[0]}
        call('ec2', urllib.parse.urlencode(q).encode(), 'application/x-www-form-urlencoded; charset=utf-8')
    elif cmd == 'associate-address':  # SECRET: gives this instance the cluster's Elastic IP
        alloc = secret(args[0]).get('eipAllocationId')
        if not alloc: return 0
        q = {'Action': 'AssociateAddress', 'Version': '2016-11-15', 'AllocationId': alloc, 'InstanceId': meta('meta-data/instance-id')}
        call('ec2', urllib.parse.urlencode(q).encode(), 'application/x-www-form-urlencoded; charset=utf-8')
    else:
        return 2
    return 0

try:
    sys.exit(main(sys.argv[1], sys.argv[2:]))
except urllib.error.HTTPError as e:
    sys.stderr.write('aws.py %s: HTTP %s %s\n' % (sys.argv[1], e.code, e.read()[:300].decode(errors='replace')))
    sys.exit(1)
except Exception as e:
    sys.stderr.write('aws.py %s: %s\n' % (sys.argv[1], e))
    sys.exit(1)
PY
AWS="python3 /usr/local/lib/skypool/aws.py"
IDENTITY=
for _ in 1 2 3 4 5 6 7 8 9 10; do
  IDENTITY=$($AWS identity) && break
  sleep 1
done
[ -n "$IDENTITY" ] || { echo "skypool: cannot read the instance identity from IMDSv2 (is the metadata service enabled?)" >&2; exit 1; }
INSTANCE_ID=${IDENTITY% *}
NODE_IP=${IDENTITY#* }
# <= 24 + 20 + 17 + 2 characters: a valid hostname, unique in the cluster.
NODE_NAME="$SKYPOOL_CLUSTER-$SKYPOOL_POOL-${INSTANCE_ID#i-}"
