// account.js - sign in and register (auth.js holds the session); after either, the cart has
// been merged and the shopper goes back where they came from (?next=).
import { register, signIn } from '../auth.js';
import { settled } from '../cart.js';
import { Failure, html, Link, navigate, PageTitle, query, useSubmit } from '../ui.js';

// Only a path of this site: ?next= must not send the shopper elsewhere.
function nextPath() {
  const n = query().next || '/';
  return /^\/(?!\/)[^\\]*$/.test(n) ? n : '/';
}

function AccountForm({ title, fields, action, submitLabel, footer }) {
  const [state, submit] = useSubmit(async (f) => {
    await action(f);
    await settled();
    navigate(nextPath());
  });
  return html`<${PageTitle} title=${title}>${title}<//>
    <form class="stack narrow" onSubmit=${submit}>
      ${fields.map(
        (f) => html`<div class="field" key=${f.name}>
          <label for=${`acc-${f.name}`}>${f.label}</label>
          <input id=${`acc-${f.name}`} name=${f.name} type=${f.type || 'text'} required autocomplete=${f.autocomplete}
            minlength=${f.minlength} maxlength=${f.maxlength} />
        </div>`,
      )}
      <button type="submit" class="primary" disabled=${state.busy}>${submitLabel}</button>
      <${Failure} error=${state.error} />
    </form>
    ${footer}`;
}

export function SignIn() {
  const next = query().next;
  return html`<${AccountForm} title="Sign in" submitLabel="Sign in"
    fields=${[
      { name: 'email', label: 'Email', type: 'email', autocomplete: 'username' },
      { name: 'password', label: 'Password', type: 'password', autocomplete: 'current-password' },
    ]}
    action=${(f) => signIn(f.email, f.password)}
    footer=${html`<p>New here? <${Link} href=${`/register${next ? `?next=${encodeURIComponent(next)}` : ''}`}>Create an account<//></p>`} />`;
}

export function Register() {
  const next = query().next;
  return html`<${AccountForm} title="Create an account" submitLabel="Create account"
    fields=${[
      { name: 'name', label: 'Name', autocomplete: 'name', maxlength: 200 },
      { name: 'email', label: 'Email', type: 'email', autocomplete: 'email', maxlength: 254 },
      { name: 'password', label: 'Password (at least 8 characters)', type: 'password', autocomplete: 'new-password', minlength: 8, maxlength: 128 },
    ]}
    action=${(f) => register(f.name, f.email, f.password)}
    footer=${html`<p>Have an account? <${Link} href=${`/signin${next ? `?next=${encodeURIComponent(next)}` : ''}`}>Sign in<//></p>`} />`;
}
