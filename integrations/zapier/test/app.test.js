'use strict';

// The Zapier app against a live gateway (see live-gateway.js), with the platform's own tester.

const zapier = require('zapier-platform-core');

const App = require('../index');

const appTester = zapier.createAppTester(App);
const TEST_CALLBACK_URL = 'https://auth-json-server.zapier-staging.com/echo';

const gateway = () => process.env.GATEWAY_URL;
const authData = (key = process.env.GATEWAY_KEY) => ({ base_url: gateway(), api_key: key });

const api = async (path, options = {}) => {
  const response = await fetch(`${gateway()}${path}`, {
    ...options,
    headers: {
      Authorization: `Bearer ${process.env.GATEWAY_KEY}`,
      'Content-Type': 'application/json',
      ...(options.headers || {}),
    },
  });
  return { status: response.status, body: response.status === 204 ? null : await response.json() };
};

const waitFor = async (check, what, timeoutMs = 30000) => {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) {
      return value;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
};

// A webhook the live gateway really sent: a job whose callback is the dev inbox.
const realWebhook = async () => {
  const job = await api('/v1/jobs', {
    method: 'POST',
    body: JSON.stringify({
      prompt: 'a horse',
      duration: '5',
      callback_url: `${gateway()}/dev/inbox`,
      metadata: { order_id: '42' },
    }),
  });
  expect(job.status).toBe(202);
  const entry = await waitFor(async () => {
    const inbox = await api('/dev/inbox');
    return inbox.body.find((e) => e.job_id === job.body.id);
  }, 'the webhook in the dev inbox');
  expect(entry.signature).toBe('valid');
  return entry.event;
};

describe('the app definition', () => {
  it('passes the platform schema validation', async () => {
    const handler = zapier.createAppHandler(App);
    const response = await handler({ command: 'validate' });
    expect(response.results).toEqual([]);
  });
});

describe('authentication', () => {
  it('tests the key with GET /v1/me', async () => {
    const me = await appTester(App.authentication.test, { authData: authData() });
    expect(me.id).toBe('cl_bootstrap');
    expect(me.name).toBe('bootstrap');
  });

  it('refuses a wrong key with the gateway message', async () => {
    await expect(appTester(App.authentication.test, { authData: authData('nope') })).rejects.toThrow(
      /not valid/,
    );
  });
});

describe('Generate Video (a callback action)', () => {
  it('submits a job whose callback is the step callback URL', async () => {
    const job = await appTester(App.creates.generate_video.operation.perform, {
      authData: authData(),
      inputData: {
        prompt: 'a horse',
        duration: 5,
        watermark: false,
        reference_image_urls: ['https://a.test/1.png', 'https://a.test/2.png'],
        metadata: { order_id: '7' },
        extra: { seed: '11' },
      },
    });
    expect(job.status).toBe('accepted');
    const stored = await api(`/v1/jobs/${job.id}`);
    expect(stored.body.callback_url).toBe(TEST_CALLBACK_URL);
    expect(stored.body.request).toMatchObject({
      prompt: 'a horse',
      duration: 5,
      seed: 11,
      watermark: false,
      reference_image_urls: ['https://a.test/1.png', 'https://a.test/2.png'],
    });
    expect(stored.body.metadata).toEqual({ order_id: '7' });
  });

  it('turns the webhook into the step output on resume', async () => {
    const event = await realWebhook();
    const output = await appTester(App.creates.generate_video.operation.performResume, {
      authData: authData(),
      outputData: { id: event.data.id, status: 'accepted' },
      cleanedRequest: event,
    });
    expect(output.status).toBe('completed');
    expect(output.job_id).toBe(event.data.id);
    expect(output.video_url).toMatch(/^http/);
    expect(output.event_type).toBe('video.generation.completed');
    expect(output.metadata).toEqual({ order_id: '42' });
  });

  it('shows the gateway error message for a bad request', async () => {
    await expect(
      appTester(App.creates.generate_video.operation.perform, {
        authData: authData(),
        inputData: { prompt: 'a horse', duration: 99 },
      }),
    ).rejects.toThrow(/duration/);
  });
});

describe('Video Ready or Failed (an instant trigger on subscriptions)', () => {
  it('subscribes, receives, lists samples and unsubscribes', async () => {
    const targetUrl = `${gateway()}/dev/inbox`;
    const subscription = await appTester(App.triggers.video_finished.operation.performSubscribe, {
      authData: authData(),
      inputData: { events: ['completed'] },
      targetUrl,
    });
    expect(subscription.id).toMatch(/^sub_/);
    const listed = await api('/v1/subscriptions');
    expect(listed.body.data.map((s) => s.id)).toContain(subscription.id);

    // A job's event reaches the subscription too; perform turns it into one item.
    const event = await realWebhook();
    await waitFor(async () => {
      const inbox = await api('/dev/inbox');
      return inbox.body.filter((e) => e.job_id === event.data.id).length >= 2;
    }, 'the event at the subscription as well');
    const items = await appTester(App.triggers.video_finished.operation.perform, {
      authData: authData(),
      cleanedRequest: event,
    });
    expect(items).toHaveLength(1);
    expect(items[0].id).toBe(`${event.data.id}:video.generation.completed`);

    // The sample list has exactly the same shape (the gateway sends the webhook's shape).
    const samples = await appTester(App.triggers.video_finished.operation.performList, {
      authData: authData(),
      inputData: { events: ['completed'] },
    });
    expect(samples.length).toBeGreaterThanOrEqual(1);
    expect(Object.keys(samples[0]).sort()).toEqual(Object.keys(items[0]).sort());
    expect(samples.map((s) => s.job_id)).toContain(event.data.id);

    await appTester(App.triggers.video_finished.operation.performUnsubscribe, {
      authData: authData(),
      subscribeData: subscription,
    });
    const after = await api('/v1/subscriptions');
    expect(after.body.data.map((s) => s.id)).not.toContain(subscription.id);
    // Unsubscribing twice (already gone) is not an error.
    await appTester(App.triggers.video_finished.operation.performUnsubscribe, {
      authData: authData(),
      subscribeData: subscription,
    });
  });
});
