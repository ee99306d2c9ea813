/**
 * dolly's web page: the engine's HTTP API for people. Signs in with a token (kept in this tab's
 * sessionStorage), shows the replica's health, lag (over time) and apply rate, the pool, the
 * user's clones and the snapshots, and does what the CLI does: create (with TTL), copy the connection string,
 * reset (to its snapshot, or to a past time), protect, destroy, save as a (private) branch, share a branch, snapshot now, set the
 * schedule; the snapshot table says which snapshots are branches, of which clone, whose, and
 * whether shared. Refreshes on the engine's events.
 */
import { formatBytes } from '../src/format.js';
import { lagText, rateText } from '../src/lag-text.js';
import type { CloneListItem, ErrorBody, ReplicaHistory, ReplicaStatusView, SnapshotList, StatusView } from '../src/model/wire.js';
import { pathOf, routes, type BodyOf, type ParamsOf, type ResponseOf, type Route } from '../src/api/routes.js';

const KEY = 'dolly.token';
let token = sessionStorage.getItem(KEY) ?? '';
let admin = false;
let me = '';
let events: AbortController | undefined;

const $ = <T extends HTMLElement = HTMLElement>(id: string): T => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`no #${id}`);
  return el as T;
};

class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** A request of the engine's route table (src/api/routes.ts), answered with its JSON. */
async function api<R extends Route>(route: R, params: ParamsOf<R>, body?: BodyOf<R>): Promise<ResponseOf<R>> {
  const response = await fetch(pathOf(route, params), {
    method: route.method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  if (!response.ok) {
    let message = `${response.status} ${response.statusText}`;
    try {
      const error = (JSON.parse(text) as ErrorBody).error;
      message = error.hint ? `${error.message} (${error.hint})` : error.message;
    } catch {
      // not an engine error body
    }
    throw new ApiError(response.status, message);
  }
  return (text === '' ? null : JSON.parse(text)) as ResponseOf<R>;
}

function cell(row: HTMLTableRowElement, text: string, className?: string): HTMLTableCellElement {
  const td = row.insertCell();
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

function button(parent: HTMLElement, label: string, action: () => Promise<unknown>): void {
  const b = document.createElement('button');
  b.textContent = label;
  b.addEventListener('click', () => void run(action));
  parent.append(b);
}

/** Runs an action, shows its error (if any) and refreshes. */
async function run(action: () => Promise<unknown>): Promise<void> {
  $('error').textContent = '';
  try {
    await action();
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return signOut('the token is not valid any more');
    $('error').textContent = error instanceof Error ? error.message : String(error);
  }
  await refresh();
}

function renderReplica(replica: ReplicaStatusView, history: ReplicaHistory): void {
  $('r-source').textContent = replica.source;
  const flag = (id: string, on: boolean): void => {
    $(id).textContent = on ? 'running' : 'stopped';
    $(id).className = on ? 'ok' : 'bad';
  };
  flag('r-io', replica.io_running);
  flag('r-sql', replica.sql_running);
  $('r-lag').textContent = lagText({ lag_seconds: replica.lag_seconds, behind_transactions: replica.behind_transactions ?? history.at(-1)?.behind_transactions ?? null, apply_rate: null });
  // Measured by this request over half a second, else the engine's last two readings.
  const rate = replica.apply_rate ?? history.at(-1)?.apply_rate ?? null;
  $('r-rate').textContent = rate === null ? 'unknown' : rateText(rate, ' transactions/s');
  $('r-error').textContent = replica.last_error ?? 'none';
  const pitr = replica.pitr;
  $('r-pitr').textContent = pitr
    ? `window ${Math.round(pitr.window_s / 3600)} h; oldest point ${pitr.oldest_point?.at ?? 'none yet'}; ${pitr.bases} bases; binlog ${formatBytes(pitr.binlog_bytes)}`
    : 'off';
  const svg = $('lag-chart');
  const points = history.filter((h) => h.lag_seconds !== null);
  const max = Math.max(1, ...points.map((p) => p.lag_seconds ?? 0));
  const width = 600;
  const step = history.length > 1 ? width / (history.length - 1) : width;
  const path = history.map((h, i) => `${i === 0 ? 'M' : 'L'}${(i * step).toFixed(1)},${(115 - ((h.lag_seconds ?? 0) / max) * 105).toFixed(1)}`).join(' ');
  svg.innerHTML = `<text x="4" y="12" font-size="10" fill="#667">lag, max ${max} s, last ${history.length} readings</text>${path ? `<path d="${path}" fill="none" stroke="#3b7ddd" stroke-width="2"/>` : ''}`;
}

function renderPool(status: StatusView): void {
  const used = status.pool.total_bytes - status.pool.free_bytes;
  $('pool-used').style.width = `${((used / Math.max(1, status.pool.total_bytes)) * 100).toFixed(1)}%`;
  $('pool-text').textContent = `${formatBytes(status.pool.free_bytes)} free of ${formatBytes(status.pool.total_bytes)}; ${formatBytes(status.pool.reserve_bytes)} kept for the replica; ${status.clones} clones, ${status.snapshots} snapshots`;
}

function renderClones(clones: CloneListItem[]): void {
  const body = ($('clones') as HTMLTableElement).tBodies[0];
  if (!body) return;
  body.replaceChildren();
  for (const clone of clones) {
    const row = body.insertRow();
    row.dataset.name = clone.name;
    cell(row, clone.name);
    cell(row, clone.owner);
    cell(row, String(clone.port));
    cell(row, clone.status === 'ready' ? clone.state : clone.status, clone.state === 'running' ? 'ok' : 'bad');
    cell(row, clone.snapshot);
    cell(row, clone.expires_at ?? '-');
    cell(row, clone.protected_until ?? '-');
    const actions = row.insertCell();
    button(actions, 'Copy connection string', async () => navigator.clipboard.writeText(clone.dsn));
    button(actions, 'Reset', () => api(routes.cloneReset, { name: clone.name }, {}));
    button(actions, 'Reset to a time', async () => {
      const at = prompt(`Reset clone ${clone.name} to the source as it was at (UTC ISO-8601, or -15m):`)?.trim();
      if (at) await api(routes.cloneReset, { name: clone.name }, { at });
    });
    button(actions, 'Protect 1d', () => api(routes.cloneProtect, { name: clone.name }, { for: '1d' }));
    button(actions, 'Save as snapshot', () => api(routes.cloneSnapshot, { name: clone.name }, {}));
    button(actions, 'Destroy', async () => {
      if (confirm(`Destroy clone ${clone.name} and its data?`)) await api(routes.cloneDestroy, { name: clone.name });
    });
  }
}

function renderSnapshots(list: SnapshotList): void {
  const body = ($('snapshots') as HTMLTableElement).tBodies[0];
  if (!body) return;
  body.replaceChildren();
  for (const s of [...list.snapshots].reverse()) {
    const row = body.insertRow();
    row.dataset.id = s.id;
    cell(row, s.id);
    cell(row, `${s.masked === true ? 'masked ' : ''}${s.branch_of === undefined ? 'replica' : `branch of ${s.branch_of} by ${s.owner ?? 'local'}, ${s.shared ? 'shared' : 'private'}`}`);
    cell(row, s.data_state_at);
    cell(row, s.clones.join(', ') || '-');
    cell(row, [s.branch_of ? `from ${s.parent ?? '?'}` : '', s.masked_from ? `masked from ${s.masked_from}` : '', s.scheduled ? 'scheduled' : '', s.past_retention ? 'kept for its clones' : '', s.status === 'ready' ? '' : s.status].filter((n) => n !== '').join('; ') || '-');
    const actions = row.insertCell();
    // A private branch can be shared by its owner or an admin.
    if (s.branch_of !== undefined && !s.shared && s.status === 'ready' && (admin || s.owner === me)) button(actions, 'Share', () => api(routes.snapshotShare, { id: s.id }));
    if (admin) button(actions, 'Delete', () => api(routes.snapshotDestroy, { id: s.id }));
  }
}

async function refresh(): Promise<void> {
  if (token === '') return;
  try {
    const [status, replica, history, clones, snapshots, schedule] = await Promise.all([
      api(routes.status, {}),
      api(routes.replicaStatus, {}).catch(() => null),
      api(routes.replicaHistory, {}),
      api(routes.cloneList, {}),
      api(routes.snapshotList, {}),
      api(routes.scheduleGet, {}),
    ]);
    renderPool(status);
    if (replica) renderReplica(replica, history);
    renderClones(clones);
    renderSnapshots(snapshots);
    $('schedule-text').textContent = schedule ? `schedule: "${schedule.snapshot}" UTC, keep ${schedule.keep}` : 'no schedule';
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return signOut('the token is not valid any more');
    $('error').textContent = error instanceof Error ? error.message : String(error);
  }
}

/** Follows /v1/events (fetch, since EventSource cannot send a token) and refreshes on each. */
async function follow(): Promise<void> {
  events?.abort();
  const abort = new AbortController();
  events = abort;
  try {
    const response = await fetch(pathOf(routes.events, {}), { headers: { authorization: `Bearer ${token}` }, signal: abort.signal });
    const reader = response.body?.getReader();
    const decoder = new TextDecoder();
    for (;;) {
      const chunk = await reader?.read();
      if (!chunk || chunk.done) break;
      if (decoder.decode(chunk.value).includes('event: ')) void refresh();
    }
  } catch {
    // aborted, or the engine went away: the periodic refresh goes on
  }
}

async function signIn(candidate: string): Promise<void> {
  token = candidate;
  try {
    const who = await api(routes.whoami, {});
    admin = who.admin;
    me = who.name;
    sessionStorage.setItem(KEY, token);
    $('who').textContent = `${who.name}${who.admin ? ' (admin)' : ''}`;
    $('signin').hidden = true;
    $('app').hidden = false;
    $('signout').hidden = false;
    $('signin-error').textContent = '';
    await refresh();
    void follow();
  } catch (error) {
    signOut(error instanceof Error ? error.message : String(error));
  }
}

function signOut(reason = ''): void {
  token = '';
  sessionStorage.removeItem(KEY);
  events?.abort();
  $('app').hidden = true;
  $('signout').hidden = true;
  $('who').textContent = '';
  $('signin').hidden = false;
  $('signin-error').textContent = reason;
}

$('signin').addEventListener('submit', (event) => {
  event.preventDefault();
  void signIn(($('token') as HTMLInputElement).value.trim());
});
$('signout').addEventListener('click', () => signOut());
$('clone-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const name = ($('clone-name') as HTMLInputElement).value.trim();
  const ttl = ($('clone-ttl') as HTMLInputElement).value.trim();
  const fresh = ($('clone-fresh') as HTMLInputElement).checked;
  const at = ($('clone-at') as HTMLInputElement).value.trim();
  void run(() => api(routes.cloneCreate, {}, { ...(name ? { name } : {}), ...(ttl ? { ttl } : {}), ...(fresh ? { fresh } : {}), ...(at ? { at } : {}) }));
});
$('snapshot-create').addEventListener('click', () => void run(() => api(routes.snapshotCreate, {}, {})));
$('schedule-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const cron = ($('schedule-cron') as HTMLInputElement).value.trim();
  const keep = Number(($('schedule-keep') as HTMLInputElement).value);
  void run(() => api(routes.scheduleSet, {}, { snapshot: cron, keep }));
});
setInterval(() => void refresh(), 5_000);
if (token !== '') void signIn(token);
else signOut();
