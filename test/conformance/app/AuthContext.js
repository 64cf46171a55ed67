// The app's AuthContext, which the document's hook imports (`useAuth()` gives the token): the
// test's page provides the token as a React context value, as a logged-in app would.
import { createContext, useContext } from 'react';

export const AuthContext = createContext({ token: null });

export const useAuth = () => useContext(AuthContext);
