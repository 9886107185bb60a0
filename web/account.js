// The person's own pages: sign up, log in, profile and notification settings, notifications.
import { api, session, login as signIn } from './api.js';
import { h, fill, when, busy, field, formData, report } from './dom.js';
import { go, markAllRead, notificationTitle, onLeave } from './app.js';

// The API's rule for usernames (a handle, not a full name: no spaces), said before it refuses one.
const USERNAME_RULE = '3 to 32 letters, digits, _ . or -';

/** Only paths of this site, so a crafted link cannot send someone elsewhere after logging in. */
function next(params) {
  const target = params.get('next') || '/';
  return target.startsWith('/') && !target.startsWith('//') ? target : '/';
}

export async function login(main, params) {
  const slot = h('div');
  const form = h('form', { class: 'card narrow' },
    field('Email', { name: 'email', type: 'email', required: true, autocomplete: 'username' }),
    field('Password', { name: 'password', type: 'password', required: true, autocomplete: 'current-password' }),
    slot,
    h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Log in'), h('a', { href: `/signup?next=${encodeURIComponent(next(params))}` }, 'No account? Sign up')));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const { email, password } = formData(form);
    busy(form, slot, async () => {
      await signIn(email, password);
      go(next(params), { replace: true });
    });
  });
  fill(main, h('h1', {}, 'Log in'), form);
}

export async function signup(main, params) {
  const slot = h('div');
  const form = h('form', { class: 'card narrow' },
    field('Email', { name: 'email', type: 'email', required: true, autocomplete: 'email' }),
    field(`Username (optional; ${USERNAME_RULE})`, { name: 'username', autocomplete: 'nickname', minlength: 3, maxlength: 32 }),
    field('Password (8 characters or more)', { name: 'password', type: 'password', required: true, minlength: 8, autocomplete: 'new-password' }),
    slot,
    h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Create account'), h('a', { href: `/login?next=${encodeURIComponent(next(params))}` }, 'Already registered? Log in')));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const { email, password, username } = formData(form);
    busy(form, slot, async () => {
      await api('POST', '/v1/auths/register', { email, password, username: username || undefined });
      await signIn(email, password);
      go(next(params), { replace: true });
    });
  });
  fill(main, h('h1', {}, 'Create your account'), form);
}

export async function profile(main) {
  const me = await api('GET', '/v1/users/me');
  const slot = h('div');
  const saved = h('p', { role: 'status', class: 'meta' });
  const form = h('form', { class: 'card' },
    h('h2', {}, 'Profile'),
    h('p', {}, 'Signed in as ', h('strong', {}, me.email), me.roles.length ? ` (${me.roles.join(', ')})` : ''),
    field(`Username (${USERNAME_RULE})`, { name: 'username', autocomplete: 'nickname', minlength: 3, maxlength: 32, value: me.username || '' }),
    field('Avatar (image URL)', { name: 'avatar', type: 'url', value: me.avatar || '' }),
    field('Birthday', { name: 'birthday', type: 'date', value: me.birthday || '' }),
    h('h2', {}, 'Settings'),
    h('label', {}, h('input', { type: 'checkbox', name: 'email_notifications', checked: me.user_settings.email_notifications }), ' Email me my tickets'),
    h('label', {}, h('input', { type: 'checkbox', name: 'site_notifications', checked: me.user_settings.site_notifications }), ' Show notifications on this site'),
    slot, saved,
    h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Save')));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const data = formData(form);
    saved.textContent = ''; // a "Saved." from before must not stand next to this save's failure
    busy(form, slot, async () => {
      await api('PATCH', '/v1/users/me', { username: data.username || null, avatar: data.avatar || null, birthday: data.birthday || null });
      await api('PATCH', '/v1/users/me/settings', { email_notifications: 'email_notifications' in data, site_notifications: 'site_notifications' in data });
      saved.textContent = 'Saved.';
    });
  });
  fill(main, h('h1', {}, 'Your account'), form);
}

export async function notifications(main) {
  const list = h('ul', { class: 'plain card', id: 'notifications' });
  const slot = h('div');
  const more = h('div', { class: 'actions' });
  fill(main, h('h1', {}, 'Notifications'), slot, list, more);
  const load = async (token) => {
    const page = await api('GET', `/v1/notifications?limit=20${token ? `&next_token=${encodeURIComponent(token)}` : ''}`);
    if (!token && !page.data.length) fill(list, h('li', {}, 'Nothing yet: payments and tickets will show up here.'));
    for (const n of page.data) {
      const item = h('li', { class: n.read_at ? '' : 'unread' }, h('div', {}, notificationTitle(n)), h('div', { class: 'meta' }, n.body, ' · ', when(n.created_at)));
      if (!n.read_at) {
        item.append(h('button', { type: 'button', class: 'link', onclick: async () => {
          try {
            await api('POST', `/v1/notifications/${n.id}/read`, {});
            item.classList.remove('unread');
            item.lastChild.remove();
            markAllRead([n.id]);
          } catch (error) {
            report(slot, error);
          }
        } }, 'Mark as read'));
      }
      list.append(item);
    }
    fill(more, page.next_token && h('button', { type: 'button', class: 'secondary', onclick: () => load(page.next_token) }, 'More'));
  };
  await load();
  // live: new ones appear on top while the page is open
  const live = (event) => list.prepend(h('li', { class: 'unread' }, h('div', {}, notificationTitle(event.detail)), h('div', { class: 'meta' }, event.detail.body)));
  window.addEventListener('notification', live);
  onLeave(() => window.removeEventListener('notification', live));
}
