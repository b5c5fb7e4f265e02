package solas.kafka;

import java.util.Arrays;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;

import org.apache.kafka.common.Configurable;
import org.apache.kafka.common.security.auth.AuthenticationContext;
import org.apache.kafka.common.security.auth.KafkaPrincipal;
import org.apache.kafka.common.security.authenticator.DefaultKafkaPrincipalBuilder;

/**
 * Kafka's default principal builder, except that an unauthenticated client of one of the
 * broker's internal listeners (the Solas workers, the broker itself, the KRaft controller)
 * is {@code User:<solas.internal.principal>}, a super user, instead of User:ANONYMOUS.
 *
 * Without it, the workers' internal listener and the anonymous user-facing listener both
 * give User:ANONYMOUS, and no ACL could tell them apart. Unauthenticated clients of every
 * other listener stay User:ANONYMOUS, and SASL clients are User:<their SASL name>.
 *
 * Broker settings: {@code solas.internal.listeners} (comma-separated listener names) and
 * {@code solas.internal.principal} (a name no SASL user can take).
 */
public class ListenerPrincipalBuilder extends DefaultKafkaPrincipalBuilder
        implements Configurable {

    public static final String LISTENERS = "solas.internal.listeners";
    public static final String PRINCIPAL = "solas.internal.principal";

    private Set<String> internalListeners = Set.of();
    private KafkaPrincipal internal = null;

    public ListenerPrincipalBuilder() {
        super(null, null);  // no Kerberos, no SSL principal mapping rules
    }

    @Override
    public void configure(Map<String, ?> configs) {
        Object listeners = configs.get(LISTENERS);
        Object principal = configs.get(PRINCIPAL);
        if (listeners == null || principal == null || principal.toString().isBlank()) {
            throw new IllegalArgumentException(getClass().getName() + " needs the broker "
                    + "settings " + LISTENERS + " and " + PRINCIPAL);
        }
        internalListeners = Arrays.stream(listeners.toString().split(","))
                .map(String::trim).filter(name -> !name.isEmpty())
                .map(name -> name.toUpperCase(java.util.Locale.ROOT))
                .collect(Collectors.toUnmodifiableSet());
        internal = new KafkaPrincipal(KafkaPrincipal.USER_TYPE, principal.toString().trim());
    }

    @Override
    public KafkaPrincipal build(AuthenticationContext context) {
        KafkaPrincipal principal = super.build(context);
        String listener = context.listenerName();
        if (internal != null && KafkaPrincipal.ANONYMOUS.equals(principal) && listener != null
                && internalListeners.contains(listener.toUpperCase(java.util.Locale.ROOT))) {
            return internal;
        }
        return principal;
    }
}
