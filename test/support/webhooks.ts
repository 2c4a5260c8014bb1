/** Event factories for webhook bodies, shaped like the examples in Meta's documentation. */
export const accountUpdate = (wabaId: string, event: string, time: number | string, extra: Record<string, unknown> = {}) => ({
  object: 'whatsapp_business_account',
  entry: [{ id: wabaId, time, changes: [{ field: 'account_update', value: { event, ...extra } }] }],
});

export const offboarded = (wabaId: string, time: number | string) => accountUpdate(wabaId, 'ACCOUNT_OFFBOARDED', time);
export const reconnected = (wabaId: string, time: number | string) => accountUpdate(wabaId, 'ACCOUNT_RECONNECTED', time);

/** PARTNER_* events arrive with the partner's business id as entry.id; the client is waba_info.waba_id. */
export const partnerEvent = (
  partnerBusinessId: string,
  wabaId: string,
  event: string,
  time: number,
  extra: Record<string, unknown> = {},
) => ({
  object: 'whatsapp_business_account',
  entry: [
    {
      id: partnerBusinessId,
      time,
      changes: [
        {
          field: 'account_update',
          value: { event, waba_info: { waba_id: wabaId, owner_business_id: '999', partner_app_id: '777' }, ...extra },
        },
      ],
    },
  ],
});

export const messagesChange = (wabaId: string, time: number, text = 'hello') => ({
  field: 'messages',
  value: {
    messaging_product: 'whatsapp',
    metadata: { display_phone_number: '15550001111', phone_number_id: '1234' },
    messages: [{ from: '15551234567', id: `wamid.${wabaId}.${text}`, timestamp: String(time), type: 'text', text: { body: text } }],
  },
});

/** One `value.statuses[]` item, as Meta sends it (`timestamp` as a string of Unix seconds). */
export interface StatusInit {
  readonly wamid: string;
  readonly status: string;
  readonly timestamp: number;
  readonly callbackData?: string;
  readonly errors?: readonly Record<string, unknown>[];
  readonly recipientId?: string;
  /** A user known by username: the status names them by BSUID (and parent BSUID) and has no `recipient_id`. */
  readonly userId?: string;
  readonly parentUserId?: string;
}

const statusItem = (s: StatusInit) => ({
  id: s.wamid,
  status: s.status,
  timestamp: String(s.timestamp),
  ...(s.userId !== undefined
    ? { recipient_user_id: s.userId, ...(s.parentUserId !== undefined ? { recipient_parent_user_id: s.parentUserId } : {}) }
    : { recipient_id: s.recipientId ?? '15551234567' }),
  ...(s.status === 'failed'
    ? {}
    : {
        conversation: { id: `conv-${s.wamid}`, origin: { type: 'utility' }, ...(s.status === 'sent' ? { expiration_timestamp: String(s.timestamp + 86_400) } : {}) },
        pricing: { billable: true, pricing_model: 'PMP', category: 'utility', type: 'regular' },
      }),
  ...(s.callbackData !== undefined ? { biz_opaque_callback_data: s.callbackData } : {}),
  ...(s.errors ? { errors: s.errors } : {}),
});

/** A `messages` change carrying statuses of the business's sent messages. */
export const statusChange = (statuses: readonly StatusInit[], phoneNumberId = '555001') => ({
  field: 'messages',
  value: {
    messaging_product: 'whatsapp',
    metadata: { display_phone_number: '15550001111', phone_number_id: phoneNumberId },
    statuses: statuses.map(statusItem),
  },
});

export const statusesWebhook = (wabaId: string, changes: readonly unknown[]) => ({
  object: 'whatsapp_business_account',
  entry: [{ id: wabaId, changes }],
});

/**
 * A coexistence `history` webhook (the client's chat history, sent at onboarding) of about `targetBytes` of JSON: one
 * change whose `value.history[]` chunk holds threads of past messages, shaped like Meta's examples (`metadata` with
 * `phase`, `chunk_order`, `progress`; each message with `history_context.status`). Text mixes ASCII, accents and emoji.
 */
export const historyWebhook = (wabaId: string, targetBytes: number, phoneNumberId = '555001') => {
  const threads: { id: string; messages: Record<string, unknown>[] }[] = [];
  const body = {
    object: 'whatsapp_business_account',
    entry: [
      {
        id: wabaId,
        changes: [
          {
            field: 'history',
            value: {
              messaging_product: 'whatsapp',
              metadata: { display_phone_number: '15550001111', phone_number_id: phoneNumberId },
              history: [{ metadata: { phase: 0, chunk_order: 1, progress: 55 }, threads }],
            },
          },
        ],
      },
    ],
  };
  const texts = ['Olá! Seu pedido já saiu para entrega 🚚', 'Can I change the delivery address?', 'Claro, qual é o novo endereço? Rua São João, 123', 'Thanks 🙏 see you tomorrow'];
  let bytes = Buffer.byteLength(JSON.stringify(body));
  for (let t = 0; bytes < targetBytes; t++) {
    const customer = String(15551000000 + t);
    const thread = { id: customer, messages: [] as Record<string, unknown>[] };
    threads.push(thread);
    bytes += Buffer.byteLength(JSON.stringify(thread)) + 1;
    for (let i = 0; i < 40 && bytes < targetBytes; i++) {
      const fromCustomer = i % 2 === 0;
      const m = {
        from: fromCustomer ? customer : '15550001111',
        ...(fromCustomer ? {} : { to: customer }),
        id: `wamid.HBgL${wabaId}${t.toString(36)}x${i.toString(36)}AA==`,
        timestamp: String(1_767_000_000 + t * 3600 + i * 60),
        type: 'text',
        text: { body: texts[(t + i) % texts.length] as string },
        history_context: { status: fromCustomer ? 'READ' : 'DELIVERED' },
      };
      thread.messages.push(m);
      bytes += Buffer.byteLength(JSON.stringify(m)) + 1;
    }
  }
  return body;
};
