// Lists that many pages need for pickers and labels, loaded once per page load and
// forgotten after a write that changes them.
import { can, listAll, session } from './api.js';

const cache = new Map();
function once(key, fn) {
  if (!cache.has(key)) cache.set(key, fn().catch((e) => {
    cache.delete(key);
    throw e;
  }));
  return cache.get(key);
}
export const forget = (key) => cache.delete(key);

export const reasons = () => once('reasons', () => listAll('/v1/feedback-reasons'));
export const campaigns = () => once('campaigns', () => listAll('/v1/campaigns'));
// Only admins may list users; for the others the signed-in user is the one person known.
export const users = () =>
  once('users', async () => {
    if (can('admin')) return listAll('/v1/users');
    const s = session.value;
    return s && s.user ? [s.user] : [];
  });

// "Dana Okafor" for a user id, "you" for one's own, a short id for an unknown one.
export function personName(people, id) {
  if (!id) return 'Unassigned';
  const me = session.value && session.value.user;
  const p = people && people.find((u) => u.id === id);
  if (p) return me && me.id === id ? `${p.name} (you)` : p.name;
  return `User ${id.slice(0, 8)}`;
}
