// /app/invitation#token=...: the invitee chooses a password and is signed in. The token
// travels in the fragment so that it never reaches a server log or a Referer header.
import { useEffect, useState } from 'preact/hooks';
import { acceptInvitation } from '../api.js';
import { BASE, Link, navigate } from '../router.js';
import { Banner, TextField, useForm } from '../ui.jsx';

export function Invitation() {
  const [token] = useState(() => {
    const t = new URLSearchParams(location.hash.slice(1)).get('token') || '';
    // the token leaves the address bar and the history at once; the page keeps it
    if (t) history.replaceState(history.state, '', location.pathname);
    return t;
  });
  const f = useForm({ password: '', confirm: '' });
  const [gone, setGone] = useState(null);
  useEffect(() => {
    document.title = 'Accept your invitation · Leadloop';
  }, []);
  const onSubmit = (e) => {
    e.preventDefault();
    if (f.values.password !== f.values.confirm) {
      f.setErrors({ confirm: 'The two passwords differ.' });
      return;
    }
    f.submit(async (v) => {
      try {
        await acceptInvitation(token, v.password);
      } catch (err) {
        if (err.status === 404) {
          err.message = 'This invitation link is not valid. Check that you copied all of it, or ask for a new one.';
          setGone(err);
        } else if (err.status === 410) {
          err.message = `This invitation link can no longer be used: ${err.problem.detail || 'it was used, revoked or has expired'}. Ask your administrator for a new one, or sign in if you already set your password.`;
          setGone(err);
        }
        throw err;
      }
      // Drop the token from the address bar and history.
      navigate(`${BASE}/scorecard`, { replace: true });
    }, ['password', 'confirm']);
  };
  return (
    <main id="main" class="narrow">
      <h1>Set your password</h1>
      {!token ? (
        <Banner error={{ message: 'This link has no invitation token. Open the whole link you were sent.' }} />
      ) : (
        <form onSubmit={onSubmit} noValidate>
          <p>Choose the password you will sign in with: 10 characters or more, not your email address.</p>
          <Banner error={f.banner} />
          <TextField label="New password" type="password" autocomplete="new-password" minLength={10} required {...f.bind('password')} />
          <TextField label="Repeat the password" type="password" autocomplete="new-password" required {...f.bind('confirm')} />
          <div class="actions">
            <button type="submit" disabled={f.busy || !!gone}>
              Set password and sign in
            </button>
          </div>
        </form>
      )}
      <p>
        <Link href={`${BASE}/signin`}>Sign in with a password you already have</Link>
      </p>
    </main>
  );
}
