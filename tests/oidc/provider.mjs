// A real OpenID Connect provider for Kezek's tests (issue 14): the certified
// `oidc-provider` package (pinned in package.json, installed by scripts/install-test-deps),
// with Kezek's test client, a second client (another audience), and test people whose ID
// tokens carry an IIN claim (or a missing or malformed one).
//
//   node tests/oidc/provider.mjs --port 0 --redirect http://127.0.0.1:8080/signin/callback
//
// prints "listening on http://127.0.0.1:PORT" once it serves. With `--directory staff` it is
// a municipality's staff directory instead (its own client `kezek-staff`, its own people,
// some with the same subjects as the portal's), as `[oidc.staff]` points Kezek at. The signing key is made anew
// at every start (a restart is a key rotation). The sign-in page is the project's own, one
// form without script: a person's login (the test users below), no password.
import http from 'node:http';
import crypto from 'node:crypto';
import Provider from 'oidc-provider';

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}

const port = Number(arg('port', '0'));
const redirects = (arg('redirect', 'http://127.0.0.1:8080/signin/callback')).split(',');
const postLogout = redirects.map((r) => new URL('/', r).href);
const directory = arg('directory', 'portal');
if (!['portal', 'staff'].includes(directory)) throw new Error(`unknown directory ${directory}`);

// The test people: subject -> claims. IINs are valid (check digit) unless named otherwise.
const PORTAL = {
  'parent-aigul': { name: 'Сейітова Айгүл Маратқызы', iin: '850303400109' },
  'parent-bolat': { name: 'Жұмабаев Болат Ерланұлы', iin: '880715300306' },
  'officer-esl': { name: 'Оспанова Дина', iin: '901121300504' },
  'no-iin': { name: 'Без ИИН' },
  'bad-iin': { name: 'Кривой ИИН', iin: '880715300307' },
  'prefixed-iin': { name: 'С префиксом', iin: 'IIN880715300306' },
};

// The staff directory's people: no IIN for staff (a directory need not have one), an `oid`
// beside `sub` as Entra ID gives, and a person with the portal's parent's subject and IIN
// (who must not become a parent through it).
const STAFF = {
  'officer-esl': { name: 'Оспанова Дина', oid: 'oid-officer-esl' },
  'operator-esl': { name: 'Ахметов Ерлан', oid: 'oid-operator-esl' },
  'parent-aigul': { name: 'Сейітова Айгүл Маратқызы', iin: '850303400109', oid: 'oid-aigul' },
};

const PEOPLE = directory === 'staff' ? STAFF : PORTAL;
const ours = directory === 'staff'
  ? { client_id: 'kezek-staff', client_secret: 'kezek-staff-test-secret' }
  : { client_id: 'kezek', client_secret: 'kezek-test-secret' };

const server = http.createServer();
await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
const jwk = { ...privateKey.export({ format: 'jwk' }), kid: crypto.randomUUID(), use: 'sig', alg: 'RS256' };

const provider = new Provider(issuer, {
  clients: [
    {
      ...ours,
      redirect_uris: redirects,
      post_logout_redirect_uris: postLogout,
      grant_types: ['authorization_code'],
      response_types: ['code'],
    },
    {
      client_id: 'other-app',
      client_secret: 'other-test-secret',
      redirect_uris: redirects,
      grant_types: ['authorization_code'],
      response_types: ['code'],
    },
  ],
  jwks: { keys: [jwk] },
  cookies: { keys: ['kezek-oidc-test-cookie-key'] },
  claims: { openid: ['sub'], profile: ['name', 'iin', 'oid'] },
  // The scopes' claims in the ID token itself, as the state portal's token carries the IIN.
  conformIdTokenClaims: false,
  pkce: { required: () => true },
  features: {
    devInteractions: { enabled: false },
    rpInitiatedLogout: {
      enabled: true,
      // The package's own page loads a web font from another host; this one is plain.
      async logoutSource(ctx, form) {
        ctx.body = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Sign out</title></head>
<body><main><h1>Sign out of the test provider?</h1>${form}
<button type="submit" form="op.logoutForm" value="yes" name="logout">Yes, sign me out</button></main></body></html>`;
      },
    },
  },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  async findAccount(ctx, sub) {
    if (!PEOPLE[sub]) return undefined;
    return { accountId: sub, claims: async () => ({ sub, ...PEOPLE[sub] }) };
  },
  // First-party: no consent screen; the grant covers what the client asked for.
  async loadExistingGrant(ctx) {
    const grantId = ctx.oidc.result?.consent?.grantId
      || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId,
      accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope('openid profile');
    await grant.save();
    return grant;
  },
});

function page(res, uid, note) {
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
  res.end(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Test provider sign-in</title></head>
<body><main><h1>Test provider</h1>${note ? `<p role="alert">${note}</p>` : ''}
<form method="post" action="/interaction/${uid}/login">
<label for="login">Login</label> <input id="login" name="login" autocomplete="username">
<button type="submit">Sign in</button></form></main></body></html>`);
}

async function body(req) {
  let text = '';
  for await (const chunk of req) text += chunk;
  return new URLSearchParams(text);
}

const callback = provider.callback();
server.on('request', async (req, res) => {
  const match = req.url.match(/^\/interaction\/([^/?]+)(\/login)?/);
  if (!match) return callback(req, res);
  try {
    const details = await provider.interactionDetails(req, res);
    if (req.method === 'GET') return page(res, details.uid);
    const login = (await body(req)).get('login') || '';
    if (!PEOPLE[login]) return page(res, details.uid, 'Unknown login');
    return await provider.interactionFinished(
      req, res, { login: { accountId: login } }, { mergeWithLastSubmission: false },
    );
  } catch (error) {
    res.writeHead(400, { 'content-type': 'text/plain' });
    res.end(`interaction failed: ${error.message}`);
  }
});

process.stdout.write(`listening on ${issuer}\n`);
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => process.exit(0));
