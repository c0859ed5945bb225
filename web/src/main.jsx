// The web app's entry: loads the session, then draws the page the URL names inside the
// common frame (skip link, navigation, who is signed in). Pages live in pages/.
import { render } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import './app.css';
import { refreshSession, session, sessionEnded, signIn, signOut, can } from './api.js';
import { useSignal } from './signal.js';
import { BASE, Link, match, navigate, useLocation } from './router.js';
import { Banner, TextField, useForm } from './ui.jsx';
import { SignIn } from './pages/signin.jsx';
import { Invitation } from './pages/invitation.jsx';
import { Scorecard } from './pages/scorecard.jsx';
import { Funnel } from './pages/funnel.jsx';
import { Rejections } from './pages/rejections.jsx';
import { FollowUp } from './pages/followup.jsx';
import { Leads } from './pages/leads.jsx';
import { LeadPage } from './pages/lead.jsx';
import { Campaigns, CampaignEdit } from './pages/campaigns.jsx';
import { Settings } from './pages/settings.jsx';

// Pages that need no session.
const PUBLIC = {
  [`${BASE}/signin`]: SignIn,
  [`${BASE}/invitation`]: Invitation,
};

const ROUTES = [
  [`${BASE}`, Scorecard],
  [`${BASE}/scorecard`, Scorecard],
  [`${BASE}/funnel`, Funnel],
  [`${BASE}/rejections`, Rejections],
  [`${BASE}/follow-up`, FollowUp],
  [`${BASE}/leads`, Leads],
  [`${BASE}/leads/:id`, LeadPage],
  [`${BASE}/campaigns`, Campaigns],
  [`${BASE}/campaigns/new`, CampaignEdit],
  [`${BASE}/campaigns/:id`, CampaignEdit],
  [`${BASE}/settings`, Settings],
];

const NAV = [
  ['/scorecard', 'Scorecard'],
  ['/funnel', 'Funnel'],
  ['/rejections', 'Rejections'],
  ['/follow-up', 'Follow-up'],
  ['/leads', 'Leads'],
  ['/campaigns', 'Campaigns'],
];

function Frame({ children }) {
  const s = useSignal(session);
  const loc = useLocation();
  const [open, setOpen] = useState(false);
  useEffect(() => setOpen(false), [loc.path]);
  const who = s && (s.user ? s.user.name : s.api_key ? `API key ${s.api_key.name}` : '');
  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <div class="brand">
          <Link href={`${BASE}/scorecard`} aria-current={undefined}>
            Leadloop
          </Link>
          {s && s.workspace && <span class="ws">{s.workspace.name}</span>}
        </div>
        <button
          type="button"
          class="menu-toggle"
          aria-expanded={open ? 'true' : 'false'}
          aria-controls="nav"
          onClick={() => setOpen(!open)}
        >
          Menu
        </button>
        <nav id="nav" aria-label="Main" class={open ? 'open' : ''}>
          <ul>
            {NAV.map(([p, t]) => (
              <li key={p}>
                <Link href={BASE + p}>{t}</Link>
              </li>
            ))}
            {can('admin') && (
              <li>
                <Link href={`${BASE}/settings`}>Settings</Link>
              </li>
            )}
          </ul>
          {s && (
            <div class="who">
              <span>
                {who} <span class="role">({s.role})</span>
              </span>
              {s.kind === 'session' && (
                <button
                  type="button"
                  class="link"
                  // a whole new page: nothing of this person's workspace stays in memory
                  onClick={() => signOut().finally(() => location.assign(`${BASE}/signin`))}
                >
                  Sign out
                </button>
              )}
            </div>
          )}
        </nav>
      </header>
      <main id="main" tabindex="-1">
        {children}
      </main>
    </>
  );
}

// Shown over the page when a 401 arrives mid-session: sign in again without leaving the
// page, so every form keeps what was typed; the user then submits again.
function SessionEnded() {
  const ended = useSignal(sessionEnded);
  const s = session.value;
  const ref = useRef(null);
  const f = useForm({ email: (s && s.user && s.user.email) || '', password: '' });
  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (ended && !d.open) d.showModal();
    if (!ended && d.open) d.close();
  }, [ended]);
  const onSubmit = (e) => {
    e.preventDefault();
    f.submit(async (v) => {
      // the same workspace: an account in several needs it named, and this page is its
      await signIn(v.email, v.password, s && s.workspace && s.workspace.slug);
      f.set('password', '');
    }, ['email', 'password']);
  };
  return (
    <dialog ref={ref} aria-labelledby="ended-title" onCancel={(e) => e.preventDefault()}>
      {ended && (
      <form onSubmit={onSubmit} noValidate>
        <h2 id="ended-title">Your session has ended, sign in again</h2>
        <p>
          You were signed out (in another tab, by an administrator, or because the session expired). Sign in to
          carry on: the page keeps what you typed, then submit it again.
        </p>
        <Banner error={f.banner} />
        <TextField label="Email" type="email" autocomplete="username" {...f.bind('email')} />
        <TextField label="Password" type="password" autocomplete="current-password" {...f.bind('password')} />
        <div class="actions">
          <button type="submit" disabled={f.busy}>
            Sign in
          </button>
          <a href={`${BASE}/signin?next=${encodeURIComponent(location.pathname + location.search)}`}>
            Go to the sign-in page instead
          </a>
        </div>
      </form>
      )}
    </dialog>
  );
}

function NotFound() {
  return (
    <section>
      <h1>No such page</h1>
      <p>
        <Link href={`${BASE}/scorecard`}>Go to the scorecard</Link>
      </p>
    </section>
  );
}

function App() {
  const loc = useLocation();
  const s = useSignal(session);
  const [state, setState] = useState('loading'); // loading | ready | error
  const [err, setErr] = useState(null);
  const Public = PUBLIC[loc.path.replace(/\/+$/, '')];

  useEffect(() => {
    refreshSession().then(
      () => setState('ready'),
      (e) => {
        setErr(e);
        setState('error');
      },
    );
  }, []);

  // Without a session, every private page sends the user to sign in and back.
  useEffect(() => {
    if (state === 'ready' && !s && !Public && !sessionEnded.value) {
      const next = loc.path + loc.search;
      navigate(`${BASE}/signin?next=${encodeURIComponent(next)}`, { replace: true });
    }
  }, [state, s, loc.path]);

  if (Public) return <Public />;
  if (state === 'error')
    return (
      <main id="main">
        <h1>Leadloop</h1>
        <Banner error={err} />
      </main>
    );
  if (state === 'loading' || !s)
    return (
      <main id="main">
        <p role="status">Loading…</p>
      </main>
    );
  let Page = NotFound;
  let params = {};
  for (const [pattern, C] of ROUTES) {
    const m = match(pattern, loc.path);
    if (m) {
      Page = C;
      params = m;
      break;
    }
  }
  if (loc.path.replace(/\/+$/, '') === BASE || loc.path === `${BASE}/`) Page = Scorecard;
  return (
    <>
      <Frame>
        <Page key={loc.path} {...params} />
      </Frame>
      <SessionEnded />
    </>
  );
}

render(<App />, document.getElementById('app'));
