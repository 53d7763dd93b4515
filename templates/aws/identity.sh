# --- aws/identity.sh: a tiny stdlib-python client for IMDSv2, Secrets Manager and EC2 (Ubuntu has no AWS CLI) ---
# Credentials come from the instance role through IMDSv2 at every call and never reach argv, env or disk.
mkdir -p /usr/local/lib/skypool
cat >/usr/local/lib/skypool/aws.py <<'PY'
import datetime, hashlib, hmac, json, os, sys, urllib.error, urllib.parse, urllib.request as U
IMDS = 'http://169.254.169.254/latest/'
TOKEN_ID = 'skypool-swarm-init-0000000000000001'  # fixed: only the first manager to publish wins

def meta(path):
    tok = U.urlopen(U.Request(IMDS + 'api/token', method='PUT', headers={'X-aws-ec2-metadata-token-ttl-seconds': '60'}), timeout=2).read().decode()
    return U.urlopen(U.Request(IMDS + path, headers={'X-aws-ec2-metadata-token': tok}), timeout=2).read().decode()

def call(service, body, ctype, target=None):
    region = meta('meta-data/placement/region')
    c = json.loads(meta('meta-data/iam/security-credentials/' + meta('meta-data/iam/security-credentials/').split()[0]))
    host = '%s.%s.amazonaws.com' % (service, region)
    amz = datetime.datetime.now(datetime.timezone.utc).strftime('%Y%m%dT%H%M%SZ')
    h = {'content-type': ctype, 'host': host, 'x-amz-date': amz, 'x-amz-security-token': c['Token']}
    if target: h['x-amz-target'] = target
    names = ';'.join(sorted(h))
    canon = '\n'.join(['POST', '/', '', ''.join('%s:%s\n' % (k, h[k]) for k in sorted(h)), names, hashlib.sha256(body).hexdigest()])
    scope = '%s/%s/%s/aws4_request' % (amz[:8], region, service)
    key = ('AWS4' + c['SecretAccessKey']).encode()
    for part in scope.split('/'):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    sts = '\n'.join(['AWS4-HMAC-SHA256', amz, scope, hashlib.sha256(canon.encode()).hexdigest()])
    h['authorization'] = 'AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s' % (
        c['AccessKeyId'], scope, names, hmac.new(key, sts.encode(), hashlib.sha256).hexdigest())
    return U.urlopen(U.Request('https://' + host + '/', data=body, method='POST', headers=h), timeout=15).read()

def sm(action, req):
    return json.loads(call('secretsmanager', json.dumps(req).encode(), 'application/x-amz-json-1.1', 'secretsmanager.' + action))

def ec2(**q):
    q['Version'] = '2016-11-15'
    call('ec2', urllib.parse.urlencode(q).encode(), 'application/x-www-form-urlencoded; charset=utf-8')

def secret(sid):
    return json.loads(sm('GetSecretValue', {'SecretId': sid}).get('SecretString') or '{}')

def main(cmd, a):
    if cmd == 'identity':
        try:
            pub = meta('meta-data/public-ipv4')
        except urllib.error.HTTPError:
            pub = '-'
        print(meta('meta-data/instance-id'), meta('meta-data/local-ipv4'), pub)
    elif cmd == 'field':  # SECRET NAME: exit 3 while missing
        v = secret(a[0]).get(a[1])
        if not v: return 3
        print(v)
    elif cmd == 'files':  # SECRET DIR NAME:FILE...: 0600 files, exit 3 while any is missing
        s, pairs = secret(a[0]), [p.split(':') for p in a[2:]]
        if not all(s.get(n) for n, _ in pairs): return 3
        for n, f in pairs:
            with os.fdopen(os.open(os.path.join(a[1], f), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), 'w') as out: out.write(s[n].strip() + '\n')
    elif cmd == 'publish':  # SECRET ADDR WORKER_SECRET, tokens in env: exit 4 when another manager published first
        s = secret(a[0])
        s.update(managerAddr=a[1], managerToken=os.environ['SKYPOOL_MANAGER_TOKEN'])
        try:
            sm('PutSecretValue', {'SecretId': a[0], 'SecretString': json.dumps(s), 'ClientRequestToken': TOKEN_ID})
        except urllib.error.HTTPError as e:
            body = e.read()
            if b'ResourceExistsException' in body: return 4
            raise urllib.error.HTTPError(e.url, e.code, body[:300].decode(errors='replace'), e.headers, None)
        # Only the winner gets here: the worker secret holds the worker token alone (workers cannot read the other).
        w = {'managerAddr': a[1], 'workerToken': os.environ['SKYPOOL_WORKER_TOKEN']}
        sm('PutSecretValue', {'SecretId': a[2], 'SecretString': json.dumps(w), 'ClientRequestToken': TOKEN_ID})
    elif cmd == 'name':  # NAME: the Name tag, as on the instances the SDK launches
        ec2(Action='CreateTags', **{'ResourceId.1': meta('meta-data/instance-id'), 'Tag.1.Key': 'Name', 'Tag.1.Value': a[0]})
    elif cmd == 'drop-credentials':  # turn off this instance's metadata endpoint: no more role credentials
        ec2(Action='ModifyInstanceMetadataOptions', InstanceId=meta('meta-data/instance-id'), HttpEndpoint='disabled')
    elif cmd == 'associate-address':  # SECRET: take the cluster's Elastic IP
        alloc = secret(a[0]).get('eipAllocationId')
        if alloc: ec2(Action='AssociateAddress', AllocationId=alloc, InstanceId=meta('meta-data/instance-id'))
    else:
        return 2
    return 0

try:
    sys.exit(main(sys.argv[1], sys.argv[2:]))
except Exception as e:
    sys.stderr.write('aws.py %s: %s %s\n' % (sys.argv[1], e, e.read()[:300] if isinstance(e, urllib.error.HTTPError) and e.fp else ''))
    sys.exit(1)
PY
AWS="python3 /usr/local/lib/skypool/aws.py"
IDENTITY=
for _ in 1 2 3 4 5 6 7 8 9 10; do
  IDENTITY=$($AWS identity) && break
  sleep 1
done
[ -n "$IDENTITY" ] || { echo "skypool: cannot read the instance identity from IMDSv2 (is the metadata service enabled?)" >&2; exit 1; }
# shellcheck disable=SC2086 # three words: instance id, private IP, public IP or -
set -- $IDENTITY
INSTANCE_ID=$1 NODE_IP=$2 PUBLIC_IP=${3#-}
# <= 24 + 20 + 17 + 2 characters: a valid hostname, unique in the cluster.
NODE_NAME="$SKYPOOL_CLUSTER-$SKYPOOL_POOL-${INSTANCE_ID#i-}"
