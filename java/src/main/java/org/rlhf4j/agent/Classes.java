package org.rlhf4j.agent;

import java.lang.reflect.InvocationTargetException;

/** Instantiates the classes named in agent.tools and agent.environment. */
final class Classes {
  private Classes() {}

  /**
   * A new instance of className, which must implement type.
   *
   * @param key the config key, for messages
   * @throws IllegalArgumentException with a one-line reason when it cannot be one
   */
  static <T> T instantiate(String className, Class<T> type, String key) {
    Class<?> c;
    try {
      c = Class.forName(className);
    } catch (ClassNotFoundException e) {
      throw new IllegalArgumentException(key + ": class " + className + " is not on the classpath");
    }
    if (!type.isAssignableFrom(c)) {
      throw new IllegalArgumentException(key + ": " + className + " does not implement " + type.getName());
    }
    try {
      return type.cast(c.getConstructor().newInstance());
    } catch (NoSuchMethodException | IllegalAccessException e) {
      throw new IllegalArgumentException(key + ": " + className + " needs a public no-argument constructor");
    } catch (InstantiationException e) {
      throw new IllegalArgumentException(key + ": " + className + " is abstract");
    } catch (InvocationTargetException e) {
      throw new IllegalArgumentException(key + ": constructing " + className + " failed: " + e.getCause(), e.getCause());
    }
  }
}
