// /app/signin?next=...: email and password. A wrong pair, too many tries (429) and every
// other problem are shown above the form, which keeps what was typed.
import { useEffect } from 'preact/hooks';
import { signIn } from '../api.js';
import { BASE, navigate, useQuery } from '../router.js';
import { Banner, TextField, useForm } from '../ui.jsx';

// Only a path inside the app may be the next page: never another site.
export function safeNext(next) {
  return next && next.startsWith(`${BASE}/`) && !next.startsWith('//') && !next.startsWith(`${BASE}/signin`)
    ? next
    : `${BASE}/scorecard`;
}

export function SignIn() {
  const [q] = useQuery();
  const f = useForm({ email: '', password: '', workspace: '' });
  useEffect(() => {
    document.title = 'Sign in · Leadloop';
  }, []);
  const onSubmit = (e) => {
    e.preventDefault();
    f.submit(async (v) => {
      try {
        await signIn(v.email.trim(), v.password, v.workspace.trim() || undefined);
      } catch (err) {
        if (err.status === 401) err.message = 'Wrong email or password. Check both and try again.';
        if (err.status === 429) {
          err.message = `Too many failed sign-ins. ${err.problem.detail || 'Wait a while and try again.'}`;
        }
        throw err;
      }
      navigate(safeNext(q.next), { replace: true });
    }, ['email', 'password', 'workspace']);
  };
  return (
    <main id="main" class="narrow">
      <h1>Sign in to Leadloop</h1>
      <form onSubmit={onSubmit} noValidate>
        <Banner error={f.banner} />
        <TextField label="Email" type="email" autocomplete="username" required {...f.bind('email')} />
        <TextField label="Password" type="password" autocomplete="current-password" required {...f.bind('password')} />
        {(f.values.workspace || f.errors.workspace) && (
          <TextField label="Workspace" hint="The workspace's short name" {...f.bind('workspace')} />
        )}
        <div class="actions">
          <button type="submit" disabled={f.busy}>
            Sign in
          </button>
        </div>
        <p class="hint">
          New here? Your administrator sends you an invitation link to set your password. The API reference is at{' '}
          <a href="/docs">/docs</a>.
        </p>
      </form>
    </main>
  );
}
