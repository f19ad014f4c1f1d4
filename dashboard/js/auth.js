/* Pages for signing in: the first-run sign-up (while no account exists), sign-in, and accepting
 * an invitation (#/invite/<token>). Each calls onSignedIn(session, propertyId?) when done. */

import {h, replace} from "./dom.js";
import {admin} from "./api.js";
import {field, form} from "./forms.js";

function page(root, title, intro, body) {
    replace(root, h("section", {class: "auth"}, h("h1", null, title), intro ? h("p", {class: "muted"}, intro) : null, body));
}

/* A password field; a new password must have at least 10 characters (admin API rule). */
function passwordInput(name, autocomplete) {
    const isNew = autocomplete === "new-password";
    return h("input", {type: "password", name, required: true, minlength: isNew ? 10 : null, maxlength: 1024, autocomplete});
}

export function renderSignIn(root, {onSignedIn, message}) {
    const email = h("input", {type: "email", name: "email", required: true, autocomplete: "username", autofocus: true});
    const password = passwordInput("password", "current-password");
    const f = form({class: "stack", id: "sign-in"}, [
        field("Email", email), field("Password", password),
        h("button", {type: "submit", class: "primary"}, "Sign in"),
    ], async () => {
        const session = await admin.post("session", {email: email.value, password: password.value});
        onSignedIn(session);
    });
    page(root, "Sign in to Tally", message || null, f);
    email.focus();
}

export function renderSignUp(root, {onSignedIn}) {
    const email = h("input", {type: "email", name: "email", required: true, autocomplete: "username"});
    const password = passwordInput("password", "new-password");
    const again = passwordInput("password2", "new-password");
    const f = form({class: "stack", id: "sign-up"}, [
        field("Email", email), field("Password", password, "At least 10 characters."), field("Password, again", again),
        h("button", {type: "submit", class: "primary"}, "Create the account"),
    ], async () => {
        if (password.value !== again.value) throw new Error("The two passwords differ.");
        const session = await admin.post("signup", {email: email.value, password: password.value});
        onSignedIn(session);
    });
    page(root, "Welcome to Tally",
         "No account exists yet. The account you create now owns this installation; others join by invitation.", f);
    email.focus();
}

/* current(): false once the user has gone on to another view, which this one must not replace. */
export async function renderInvite(root, token, {onSignedIn, current}) {
    page(root, "Invitation", null, h("p", {class: "loading"}, "Loading…"));
    let invite;
    try {
        invite = await admin.post("invitations/preview", {token});
    } catch (e) {
        if (!current()) return;
        page(root, "Invitation", null, h("p", {class: "error"},
            e.status === 404 ? "This invitation is unknown, used, revoked or expired. Ask for a new one." : e.message));
        return;
    }
    if (!current()) return;
    const password = passwordInput("password", invite.account_exists ? "current-password" : "new-password");
    const again = invite.account_exists ? null : passwordInput("password2", "new-password");
    const f = form({class: "stack", id: "accept-invitation"}, [
        field("Email", h("input", {type: "email", value: invite.email, readonly: true, autocomplete: "username"})),
        field(invite.account_exists ? "Your password" : "Choose a password", password,
              invite.account_exists ? null : "At least 10 characters."),
        again ? field("Password, again", again) : null,
        h("button", {type: "submit", class: "primary"}, "Accept the invitation"),
    ], async () => {
        if (again && password.value !== again.value) throw new Error("The two passwords differ.");
        const session = await admin.post("invitations/accept", {token, password: password.value});
        onSignedIn(session, session.property && session.property.id);
    });
    page(root, "Join " + invite.property.name,
         `You are invited as ${invite.role} of ${invite.property.name}. ` +
         (invite.account_exists ? "Sign in with your existing account's password." : "Choose a password for your new account."), f);
}
