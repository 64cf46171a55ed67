import { createClient, type Session } from '@supabase/supabase-js';
import { createSpotcastClient } from '@spotcast/client';
import { SpotcastProvider, useLotAvailability, useMyBookings, useSpotcast } from '@spotcast/client/react';
import { useEffect, useState } from 'react';

const supabase = createClient('https://<project>.supabase.co', '<anon key>');
// One client per app: it asks Supabase for the token before each connection and ahead of expiry.
const spotcast = createSpotcastClient({
  url: 'https://parking.example.com',
  getToken: async () => (await supabase.auth.getSession()).data.session?.access_token,
});

export function App({ lotId }: { lotId: string }) {
  const [session, setSession] = useState<Session | null>(null);
  useEffect(() => {
    void supabase.auth.getSession().then(({ data }) => setSession(data.session));
    const { data } = supabase.auth.onAuthStateChange((event, next) => {
      setSession(next);
      if (event === 'TOKEN_REFRESHED') void spotcast.refreshToken(); // hand it over now
    });
    return () => data.subscription.unsubscribe();
  }, []);
  if (!session) return <p>Sign in to book a space.</p>;
  return (
    <SpotcastProvider client={spotcast}>{/* connected while mounted */}
      <Lot lotId={lotId} />
      <MyBookings />
    </SpotcastProvider>
  );
}

function Lot({ lotId }: { lotId: string }) {
  const { status, error, client } = useSpotcast();
  const lot = useLotAvailability(lotId);
  const [refusal, setRefusal] = useState('');
  const book = async () => {
    const res = await client.request('create_booking', { parking_lot_id: lotId, duration_minutes: 60 });
    setRefusal(res.ok ? '' : `${res.error.code}: ${res.error.message}`);
  };
  if (status === 'error') return <p role="alert">{error?.code}: {error?.message}</p>;
  if (!lot) return <p aria-busy="true">Connecting…</p>;
  return (
    <section>
      <h2>{lot.name}: {lot.available_spaces} of {lot.total_spaces} free{status === 'reconnecting' ? ' (reconnecting…)' : ''}</h2>
      <button onClick={() => void book()} disabled={status !== 'connected'}>Book 1 hour</button>
      {refusal && <p role="alert">{refusal}</p>}
    </section>
  );
}

function MyBookings() {
  const { bookings, payments } = useMyBookings(); // live: pending → confirmed → active → completed
  return (
    <ul>
      {bookings.map((b) => <li key={b.id}>{new Date(b.starts_at).toLocaleTimeString()} {b.status} {payments.get(b.id)?.status ?? ''}</li>)}
    </ul>
  );
}
