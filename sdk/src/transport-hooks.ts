import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';

type MessageHandler = NonNullable<Transport['onmessage']>;

/**
 * Wraps the `onmessage` handler of `transport` with `wrap`, whenever it is set: now (if the
 * transport is already connected) and each time the MCP `Protocol` sets it in `connect()`. Works
 * for handlers kept in a field and for those behind an accessor (the Node Streamable HTTP
 * transport forwards its handler to the web-standard transport inside it).
 */
export function wrapOnMessage(transport: Transport, wrap: (handler: MessageHandler) => MessageHandler): void {
  const descriptor = findDescriptor(transport, 'onmessage');
  const forward = descriptor?.set ? (h: MessageHandler | undefined) => descriptor.set?.call(transport, h) : undefined;
  let wrapped: MessageHandler | undefined = transport.onmessage ? wrap(transport.onmessage) : undefined;
  Object.defineProperty(transport, 'onmessage', {
    configurable: true,
    enumerable: true,
    get: () => wrapped,
    set: (handler: MessageHandler | undefined) => {
      wrapped = handler ? wrap(handler) : undefined;
      forward?.(wrapped);
    },
  });
  forward?.(wrapped);
}

type Message = Parameters<Transport['send']>[0];

/** Puts `observe` in front of every message `transport` sends; it sends (this or another message) with `send`. */
export function wrapSend(
  transport: Transport,
  observe: (message: Message, send: (message: Message) => Promise<void>) => Promise<void>,
): void {
  const send = transport.send.bind(transport);
  transport.send = (message, options) => observe(message, (m) => send(m, options));
}

/** Runs `before` when `transport.close()` is called. */
export function wrapClose(transport: Transport, before: () => void): void {
  const close = transport.close.bind(transport);
  transport.close = () => {
    before();
    return close();
  };
}

function findDescriptor(object: object, key: string): PropertyDescriptor | undefined {
  for (let o: object | null = object; o; o = Object.getPrototypeOf(o)) {
    const d = Object.getOwnPropertyDescriptor(o, key);
    if (d) return d;
  }
  return undefined;
}
