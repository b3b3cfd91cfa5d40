'use strict';

// One item per webhook event, the same for the live hook (perform) and the sample list
// (performList): the gateway sends both in the webhook body's shape {type, timestamp, data}.
const eventItem = (event) => {
  const data = event.data || {};
  return {
    ...data,
    id: `${data.id}:${event.type}`, // Zapier deduplicates on id: one item per job and event
    job_id: data.id,
    event_type: event.type,
    event_timestamp: event.timestamp,
  };
};

// What the gateway's GET /v1/subscriptions/sample returns when there are no real events yet.
const SAMPLE_EVENT = {
  type: 'video.generation.completed',
  timestamp: '2025-11-24T16:02:40.000Z',
  data: {
    id: 'job_example00000000000000000',
    status: 'completed',
    model: 'alibaba/happyhorse-1-0',
    created_at: '2025-11-24T16:00:00.000Z',
    updated_at: '2025-11-24T16:02:40.000Z',
    request: { model: 'alibaba/happyhorse-1-0', prompt: 'Mona Lisa puts on glasses with her hands.' },
    metadata: { order_id: '42' },
    events: ['completed', 'failed'],
    callback_url: null,
    generation_id: 'rLCxsu-1_rTBBGbBC6JFJ',
    // The gateway's kept copy (issue 26): a signed link that needs no key, valid for the
    // retention (7 days by default); video.upstream_url is the upstream's, which expires.
    video_url:
      'https://gateway.example.com/v1/outputs/job_example00000000000000000/video.mp4?expires=1764604960&sig=example',
    video: {
      url: 'https://gateway.example.com/v1/outputs/job_example00000000000000000/video.mp4?expires=1764604960&sig=example',
      upstream_url: 'https://cdn.example.com/videos/example.mp4',
      expires_at: '2025-12-01T16:02:40.000Z',
      kept: true,
      state: 'kept',
      sha256: '9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08',
      bytes: 4718592,
      content_type: 'video/mp4',
      width: 1280,
      height: 720,
      duration_s: 5.0,
      poster_url:
        'https://gateway.example.com/v1/outputs/job_example00000000000000000/poster.jpg?expires=1764604960&sig=example',
      not_kept_reason: null,
      not_kept_message: null,
    },
    usage: { credits_used: 1260000, usd_spent: 0.63 },
    error: null,
    submitted_at: '2025-11-24T16:00:01.000Z',
    finished_at: '2025-11-24T16:02:40.000Z',
    deadline_at: '2025-11-24T16:30:00.000Z',
  },
};

module.exports = { SAMPLE_EVENT, eventItem };
