package org.rlhf4j.ppo;

import java.lang.reflect.InvocationTargetException;

/** Instantiates the Java reward function named in reward.function. */
public final class RewardFunctions {
  private RewardFunctions() {}

  /** A new instance of className; a clear IllegalArgumentException when it cannot be one. */
  public static RewardFunction instantiate(String className) {
    Class<?> type;
    try {
      type = Class.forName(className);
    } catch (ClassNotFoundException e) {
      throw new IllegalArgumentException("reward.function: class " + className + " is not on the classpath");
    }
    if (!RewardFunction.class.isAssignableFrom(type)) {
      throw new IllegalArgumentException("reward.function: " + className + " does not implement "
          + RewardFunction.class.getName());
    }
    try {
      return (RewardFunction) type.getConstructor().newInstance();
    } catch (NoSuchMethodException | IllegalAccessException e) {
      throw new IllegalArgumentException("reward.function: " + className + " needs a public no-argument constructor");
    } catch (InstantiationException e) {
      throw new IllegalArgumentException("reward.function: " + className + " is abstract");
    } catch (InvocationTargetException e) {
      throw new IllegalArgumentException("reward.function: constructing " + className + " failed: "
          + e.getCause().getMessage(), e.getCause());
    }
  }
}
