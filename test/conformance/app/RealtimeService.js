// The app's RealtimeService: the reference document's class, imported as written, plus what the
// document leaves to the app, the UI methods it calls. They record what they receive instead of
// rendering it, so a test reads what the user would have been shown.
import DocumentRealtimeService from 'reference:RealtimeService';

/** Every service the app created, in order (the hook creates one per token). */
export const services = [];
/** UI calls whose `this` was neither a service nor its socket: a test fails on any. */
export const strays = [];
/** A service, or its socket, → the service. */
const owners = new WeakMap();

function record(owner, method, data) {
  const service = owners.get(owner);
  if (service) service.ui.push({ method, data });
  else strays.push({ method, data });
}

export default class RealtimeService extends DocumentRealtimeService {
  constructor(token) {
    super(token);
    this.token = token;
    this.ui = [];
    this.received = [];
    owners.set(this, this);
    owners.set(this.socket, this);
    services.push(this);
    // Everything that arrived, and over which transport (default: long-polling, then WebSocket).
    const transport = () => this.socket.io.engine?.transport?.name ?? null;
    this.socket.onAny((event, data) => this.received.push({ event, data, transport: transport() }));
    this.socket.on('connect_error', (err) => this.received.push({ event: 'connect_error', data: { message: err.message, data: err.data }, transport: transport() }));
  }

  // The document registers `this.handleConnection` but never defines it, and registers it
  // unbound: Socket.IO calls it with the socket as `this`, which `record` accepts.
  handleConnection(data) {
    record(this, 'handleConnection', data);
  }

  updateParkingDisplay(data) {
    record(this, 'updateParkingDisplay', data);
  }

  updateBookingStatus(data) {
    record(this, 'updateBookingStatus', data);
  }

  updatePaymentStatus(data) {
    record(this, 'updatePaymentStatus', data);
  }

  showNotification(data) {
    record(this, 'showNotification', data);
  }

  showSystemMessage(data) {
    record(this, 'showSystemMessage', data);
  }
}
