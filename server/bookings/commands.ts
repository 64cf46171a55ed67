import { ValidationError } from '../errors.js';
import type { CreateBookingInput } from '../realtime/contract.js';
import type { CreateBookingCommand } from './types.js';

/** From the validated client input to the service's command: resolves "now" and durations once. */
export function toCreateCommand(input: CreateBookingInput, now = new Date()): CreateBookingCommand {
  const starts = input.starts_at ? new Date(input.starts_at) : now;
  const ends = input.ends_at ? new Date(input.ends_at) : new Date(starts.getTime() + (input.duration_minutes ?? 0) * 60_000);
  if (!(ends > starts)) throw new ValidationError('ends_at must be after starts_at');
  return {
    parking_lot_id: input.parking_lot_id,
    starts_at: starts,
    ends_at: ends,
    ...(input.idempotency_key ? { idempotency_key: input.idempotency_key } : {}),
    ...(input.vehicle_plate ? { vehicle_plate: input.vehicle_plate } : {}),
  };
}
